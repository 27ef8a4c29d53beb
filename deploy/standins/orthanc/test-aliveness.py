#!/bin/sh
# The stand-in's health probe, at the official image's path (a shell script despite its name):
# Orthanc answers /system on its HTTP port.
exec curl --fail --silent --show-error --max-time 4 --output /dev/null "http://127.0.0.1:${ORTHANC_HTTP_PORT:-8042}/system"
