#!/bin/sh
# The stand-in nginx image's entrypoint: as the official image's, when the command is nginx, the
# scripts in /docker-entrypoint.d run in order (*.envsh sourced, so their exports reach nginx;
# *.sh run), then the command.
set -e
if [ "$1" = nginx ] || [ "$1" = nginx-debug ]; then
  for f in $(find /docker-entrypoint.d/ -follow -type f -print | sort -V); do
    case "$f" in
      *.envsh) if [ -x "$f" ]; then . "$f"; fi ;;
      *.sh) if [ -x "$f" ]; then "$f"; fi ;;
      *) ;;
    esac
  done
fi
exec "$@"
