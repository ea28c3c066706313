#!/bin/sh
# `lastmile-service <service> [args]` runs `python -m services.<service> [args]` as PID 1's
# replacement, so SIGTERM reaches the service's graceful drain directly.
set -eu
if [ "$#" -lt 1 ]; then
    echo "usage: lastmile-service <service> [args]" >&2
    exit 64
fi
service="$1"
shift
if [ ! -f "/app/services/${service}/__main__.py" ]; then
    echo "lastmile-service: no service named '${service}'" >&2
    exit 64
fi
exec python -m "services.${service}" "$@"
