#!/bin/sh
# The stand-in Orthanc's entrypoint (see the Dockerfile): the configuration directory Orthanc
# reads is /etc/orthanc/*.json plus defaults for what they leave out, made in /tmp at each start.
set -eu
if [ "${1:-}" != Orthanc ]; then exec "$@"; fi

if [ "$(id -u)" = 0 ]; then
  chown -R orthanc:orthanc /var/lib/orthanc/db
  exec setpriv --reuid=orthanc --regid=orthanc --init-groups "$0" "$@"
fi

config=$(mktemp -d /tmp/orthanc-config.XXXXXX)
for f in /etc/orthanc/*.json; do
  [ -e "$f" ] && cp "$f" "$config/"
done
given() { cat "$config"/*.json 2>/dev/null | grep -q "\"$1\""; }
{
  echo '{'
  given StorageDirectory || echo '  "StorageDirectory": "/var/lib/orthanc/db",'
  given IndexDirectory || echo '  "IndexDirectory": "/var/lib/orthanc/db",'
  given RemoteAccessAllowed || echo '  "RemoteAccessAllowed": true,'
  given DicomServerEnabled || echo '  "DicomServerEnabled": false,'
  if [ "${DICOM_WEB_PLUGIN_ENABLED:-false}" = true ] && ! given Plugins; then
    echo '  "Plugins": ["/usr/share/orthanc/plugins/libOrthancDicomWeb.so"],'
  fi
  echo '  "HttpPort": 8042'
  echo '}'
} >"$config/zz-standin-defaults.json"
exec Orthanc "$config"
