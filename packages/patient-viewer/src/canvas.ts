/** Draws `source` into `canvas`, scaled to fit, centred on black (the strip's thumbnails). */
export function letterbox(
  canvas: HTMLCanvasElement,
  source: CanvasImageSource & { width: number; height: number },
): void {
  const g = canvas.getContext('2d') as CanvasRenderingContext2D;
  const scale = Math.min(canvas.width / source.width, canvas.height / source.height);
  const w = source.width * scale;
  const h = source.height * scale;
  g.fillStyle = '#000';
  g.fillRect(0, 0, canvas.width, canvas.height);
  g.drawImage(source, (canvas.width - w) / 2, (canvas.height - h) / 2, w, h);
}
