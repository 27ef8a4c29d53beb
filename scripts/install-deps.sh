#!/usr/bin/env bash
# Installs what the native stack and the tests need from Debian's packages, if missing, and makes
# sure PostgreSQL answers on 127.0.0.1:5432 (trust auth for local test connections; the services'
# application roles need their password).
# Safe to run again: it does nothing when everything is there. Needs root (or sudo).
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

packages=(postgresql nginx-light orthanc orthanc-dicomweb dcmtk dicom3tools chromium python3-pydicom python3-aiosmtpd unzip curl docker-compose gettext-base openssl)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$version" ]; then
    version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
    $SUDO pg_createcluster "$version" main >/dev/null
  fi
  hba="/etc/postgresql/$version/main/pg_hba.conf"
  # Local development and tests connect as postgres over loopback without a password.
  if ! $SUDO grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
    $SUDO sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
  fi
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start || $SUDO pg_ctlcluster "$version" main restart
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
psql -h 127.0.0.1 -U postgres -tAc 'select 1' >/dev/null
# The services' roles (members of studylink_app) need their password even over loopback, ahead of the
# trust rules above; other users of the cluster keep theirs (scripts/pg-access.mjs, README: Database
# roles). The test kit's application role has a password of its own, so the tests still connect.
hba=$(psql -h 127.0.0.1 -U postgres -tAc 'SHOW hba_file')
if ! $SUDO grep -q '^# studylink: application roles need their password' "$hba"; then
  $SUDO sed -i '1i # studylink: application roles need their password (scripts/pg-access.mjs)\nlocal all +studylink_app scram-sha-256\nhost all +studylink_app 127.0.0.1/32 scram-sha-256\nhost all +studylink_app ::1/128 scram-sha-256' "$hba"
  psql -h 127.0.0.1 -U postgres -tAc 'SELECT pg_reload_conf()' >/dev/null
fi
echo "system dependencies ready"
