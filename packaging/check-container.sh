#!/usr/bin/env bash
# check-container.sh: build the container image from the release snapshot
# in dist/ (container.sh) and run it as docs/install.md says: -version of
# every program from the manifest list, then the image's MQTTPublisher
# reading the simulator, which runs on this machine as a network P1
# adapter, and publishing to a Mosquitto broker on this machine, and its
# SmartyGateway serving the same meter over HTTP. .ci/run calls it as root
# after the release snapshot; it stops what it started and removes the
# containers (the images stay, as any build leaves them).
#
# Each podman run gets $RUN_OPTS: limits within this machine's hard limits
# and runc when it is installed. In the CI sandbox no process may raise a
# hard limit (no CAP_SYS_RESOURCE, root included), and podman asks for 1048576
# open files; crun then refuses the sandbox's mixed cgroup v1/v2 layout,
# which runc accepts (docs/install.md, "A container image").
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "check-container: $*" >&2; exit 1; }
image=smarty-reader:snapshot
RUN_OPTS=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
if command -v runc >/dev/null; then RUN_OPTS+=(--runtime runc); fi

work=$(mktemp -d)
pids=()
containers=()
secrets=()
cleanup() {
	for c in "${containers[@]}"; do podman rm -f "$c" >/dev/null 2>&1 || true; done
	for s in "${secrets[@]}"; do podman secret rm "$s" >/dev/null 2>&1 || true; done
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

# freeport prints a TCP port nothing listens on.
freeport() {
	local p
	for _ in $(seq 100); do
		p=$((20000 + RANDOM % 20000))
		if ! (: </dev/tcp/127.0.0.1/$p) 2>/dev/null; then echo "$p"; return; fi
	done
	fail "no free port"
}

echo "--- build"
packaging/container.sh snapshot >/dev/null
version=$(dpkg-deb -f "$(ls dist/smarty-reader_*_amd64.deb)" Version)

echo "--- -version of every program, from the manifest list"
for c in MQTTPublisher SmartyGateway OnlineDecryption OfflineDecryption SmartySimulator; do
	out=$(podman run --rm "${RUN_OPTS[@]}" --entrypoint "/usr/bin/$c" "$image" -version)
	echo "$out"
	[[ $out == "$c $version ("* ]] || fail "$c -version in the image: $out"
done

echo "--- the meter (the simulator, as a network P1 adapter) and a broker, on this machine"
# The key as the README makes it (readable by its owner only), handed to
# the containers as a podman secret their user (nobody) may read.
install -m 600 /dev/null "$work/smarty.key"
printf '000102030405060708090A0B0C0D0E0F\n' >"$work/smarty.key"
podman secret rm smarty-check-key >/dev/null 2>&1 || true
podman secret create smarty-check-key "$work/smarty.key" >/dev/null
secrets+=(smarty-check-key)
sim=$(ls dist/SmartySimulator_linux_amd64_v1/SmartySimulator)
meter=$(freeport)
"$sim" -keyFile "$work/smarty.key" -listen "0.0.0.0:$meter" -interval 200ms >"$work/sim.out" 2>"$work/sim.err" &
pids+=($!)
broker=$(freeport)
printf 'listener %s 0.0.0.0\nallow_anonymous true\npersistence false\n' "$broker" >"$work/mosquitto.conf"
mosquitto=$(command -v mosquitto || echo /usr/sbin/mosquitto)
"$mosquitto" -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do
	(: </dev/tcp/127.0.0.1/$meter) 2>/dev/null && (: </dev/tcp/127.0.0.1/$broker) 2>/dev/null && break
	sleep 0.1
done

echo "--- MQTTPublisher, the image's entry point, with its queue in a volume"
set -x
podman run --rm "${RUN_OPTS[@]}" \
	--secret smarty-check-key,uid=65534,mode=0400 -e SMARTY_KEY_FILE=/run/secrets/smarty-check-key \
	-e SMARTY_DEVICE="tcp://host.containers.internal:$meter" \
	-e SMARTY_MQTT_BROKER="tcp://host.containers.internal:$broker" \
	-e SMARTY_QUEUE_DIR=/var/lib/smarty-mqtt -v smarty-check-queue:/var/lib/smarty-mqtt \
	"$image" -count 2 2>"$work/publisher.err" || { cat "$work/publisher.err"; fail "MQTTPublisher in the image failed"; }
{ set +x; } 2>/dev/null
cat "$work/publisher.err"
grep -q "at exit: 2 telegrams delivered" "$work/publisher.err" || fail "MQTTPublisher in the image delivered no telegram"
podman volume rm smarty-check-queue >/dev/null

echo "--- SmartyGateway, serving the live page and the API"
http=$(freeport)
containers+=(smarty-check-gateway)
set -x
podman run -d --name smarty-check-gateway "${RUN_OPTS[@]}" --entrypoint /usr/bin/SmartyGateway -p "127.0.0.1:$http:8080" \
	--secret smarty-check-key,uid=65534,mode=0400 -e SMARTY_KEY_FILE=/run/secrets/smarty-check-key \
	-e SMARTY_DEVICE="tcp://host.containers.internal:$meter" -e SMARTY_HTTP=0.0.0.0:8080 \
	"$image" >/dev/null
{ set +x; } 2>/dev/null
got=
for _ in $(seq 100); do
	got=$(curl -sf "http://127.0.0.1:$http/api/telegram" 2>/dev/null) && [[ $got == *'"system_title":"'* ]] && break
	sleep 0.1
done
[[ $got == *'"system_title":"'* ]] || { podman logs smarty-check-gateway >&2; fail "SmartyGateway in the image served no telegram: $got"; }
echo "${got:0:120}..."
podman stop -t 10 smarty-check-gateway >/dev/null
status=$(podman inspect smarty-check-gateway --format '{{.State.ExitCode}}')
[ "$status" = 0 ] || fail "SmartyGateway in the image exited $status at SIGTERM"
echo "check-container: built, and its programs ran from the image"
