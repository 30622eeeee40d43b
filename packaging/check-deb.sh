#!/usr/bin/env bash
# check-deb.sh: install the amd64 Debian package of the release snapshot in
# dist/ on this machine (as root), check what it installed, and remove it
# again, first keeping the settings (dpkg -r), then everything (dpkg -P).
# .ci/run calls it after the snapshot; it leaves the machine as it found it.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "check-deb: $*" >&2; exit 1; }
cmds=(MQTTPublisher OnlineDecryption OfflineDecryption SmartySimulator SmartyGateway)
units=(/usr/lib/systemd/system/smarty-mqtt.service /usr/lib/systemd/system/smarty-gateway.service)
envs=(/etc/smarty-mqtt.env /etc/smarty-gateway.env)

deb=$(ls dist/smarty-reader_*_amd64.deb)
version=$(dpkg-deb -f "$deb" Version)
echo "--- $deb (version $version)"
dpkg-deb -c "$deb"
! dpkg -s smarty-reader >/dev/null 2>&1 || fail "smarty-reader is installed already"

# Install it as the README says, word for word: its block marked
# "run: ci" (sudo is a no-op for root when it is not installed).
readme_block=$(awk '/^<!-- run: ci /{m=1; next} m && /^```sh/{b=1; next} b && /^```/{exit} b' README.md)
[ -n "$readme_block" ] || fail "no block marked run: ci in README.md"
echo "--- README.md: $readme_block"
(
	cd dist
	if ! command -v sudo >/dev/null; then sudo() { "$@"; }; fi
	export DEBIAN_FRONTEND=noninteractive
	eval "$readme_block"
)
dpkg -s smarty-reader | grep -qx 'Status: install ok installed' || fail "not installed"

for c in "${cmds[@]}"; do
	out=$("/usr/bin/$c" -version)
	echo "$out"
	[[ $out == "$c $version ("* ]] || fail "$c -version: $out; want $c $version (...)"
	"/usr/bin/$c" -h >/tmp/check-deb-usage 2>/tmp/check-deb-stderr || fail "$c -h failed"
	grep -q "^Usage: $c " /tmp/check-deb-usage || fail "$c -h: no usage on stdout"
	[ ! -s /tmp/check-deb-stderr ] || fail "$c -h wrote to stderr"
done
rm -f /tmp/check-deb-usage /tmp/check-deb-stderr

id smarty
id -nG smarty | tr ' ' '\n' | grep -qx dialout || fail "the user smarty is not in dialout"
[ "$(getent passwd smarty | cut -d: -f7)" = /usr/sbin/nologin ] || fail "the user smarty has a shell"
for env in "${envs[@]}"; do
	[ "$(stat -c '%a %U' "$env")" = "600 root" ] || fail "$env: $(stat -c '%a %U' "$env"), want 600 root"
done
for unit in "${units[@]}"; do
	# verify prints its warnings and still exits 0 for some: none is
	# accepted.
	out=$(systemd-analyze verify "$unit" 2>&1) || fail "systemd-analyze verify $unit: $out"
	[ -z "$out" ] || fail "systemd-analyze verify $unit: $out"
	echo "systemd-analyze verify $unit: clean"
done
# Each unit's program reads its settings from the environment file: the
# variables written there are flags the program knows.
for pair in smarty-mqtt:MQTTPublisher smarty-gateway:SmartyGateway; do
	name=${pair%%:*} cmd=${pair#*:}
	usage=$("/usr/bin/$cmd" -h)
	for v in $(grep -oE '^#?SMARTY_[A-Z0-9_]+=' "/etc/$name.env" | tr -d '#=' | sort -u); do
		case $v in SMARTY_MQTT_FLAGS | SMARTY_GATEWAY_FLAGS) continue ;; esac
		grep -qwF -- "\$$v" <<<"$usage" || fail "/etc/$name.env sets $v, which $cmd -h does not list"
	done
done

# Remove: the programs and the units go, the settings stay (conffiles).
for env in "${envs[@]}"; do echo "settings kept" >>"$env"; done
dpkg -r smarty-reader
for f in "${cmds[@]/#//usr/bin/}" "${units[@]}"; do [ ! -e "$f" ] || fail "$f is still there after dpkg -r"; done
for env in "${envs[@]}"; do grep -q "settings kept" "$env" || fail "dpkg -r removed or replaced $env"; done
# Purge: the settings and the user go too.
dpkg -P smarty-reader
for env in "${envs[@]}"; do [ ! -e "$env" ] || fail "$env is still there after dpkg -P"; done
! getent passwd smarty >/dev/null || fail "the user smarty is still there after dpkg -P"
! getent group smarty >/dev/null || fail "the group smarty is still there after dpkg -P"
! dpkg -s smarty-reader >/dev/null 2>&1 || fail "dpkg still knows smarty-reader"
echo "check-deb: installed, checked and removed cleanly"
