#!/bin/bash
# Init container: assemble /etc/rabbitmq (an emptyDir) from the ConfigMap and the mounted Secret, and
# install the Erlang cookie with the 0400 mode Erlang insists on. Only bash builtins touch the secret
# values, so they never appear in a process argument.
set -euo pipefail
umask 077
config="${CONFIG_DIR:-/config}" etc="${ETC_DIR:-/etc/rabbitmq}" data="${DATA_DIR:-/var/lib/rabbitmq}"
cp "$config/rabbitmq.conf" "$config/enabled_plugins" "$etc/"
json_escape() { local v="${1//\\/\\\\}"; printf '%s' "${v//\"/\\\"}"; }
user="$(<"$SECRET_DIR/username")"
pass="$(<"$SECRET_DIR/password")"
defs="$(<"$config/definitions.json.tpl")"
# Quoted replacements: bash 5.2 would otherwise treat `&` and backslashes in them specially.
user="$(json_escape "$user")"
pass="$(json_escape "$pass")"
defs="${defs//@@USERNAME@@/"$user"}"
defs="${defs//@@PASSWORD@@/"$pass"}"
defs="${defs//@@DELIVERY_LIMIT@@/"$DELIVERY_LIMIT"}"
printf '%s\n' "$defs" > "$etc/definitions.json"
cookie="$data/.erlang.cookie"
rm -f "$cookie"
printf '%s' "$(<"$SECRET_DIR/erlang-cookie")" > "$cookie"
chmod 0400 "$cookie"
