#!/bin/sh
# container.sh: build the multi-arch container image smarty-reader:TAG
# (default: snapshot; a manifest list, with one image per platform,
# smarty-reader:TAG-amd64, -arm64 and -armv6) with podman, from the binaries of the release snapshot
# in dist/ (go run github.com/goreleaser/goreleaser/v2@v2.15.1 release
# --snapshot --clean). No RUN step, so no emulator is needed to build the
# arm images on another machine.
set -eu
cd "$(dirname "$0")/.."
tag=${1:-snapshot}
ctx=dist/container
rm -rf "$ctx"
for target in amd64:linux_amd64_v1 arm64:linux_arm64_v8.0 armv6:linux_arm_6; do
	dir=${target%%:*} suffix=${target#*:}
	mkdir -p "$ctx/$dir"
	for cmd in MQTTPublisher OnlineDecryption OfflineDecryption SmartySimulator SmartyGateway; do
		cp "dist/${cmd}_${suffix}/$cmd" "$ctx/$dir/"
	done
done
cp /etc/ssl/certs/ca-certificates.crt "$ctx/"
# One image per platform (podman 4 mixes up the variants when it builds
# several platforms in one call), then the manifest list that holds them,
# with the variant given for the arm platforms and none for amd64: podman
# 4.3 picks an entry of the list by the machine's variant, which is empty
# on amd64, so an amd64 entry with a variant (v1) is never chosen ("no
# image found in image index for architecture amd64, variant """).
podman manifest rm "smarty-reader:$tag" >/dev/null 2>&1 || true
podman manifest create "smarty-reader:$tag"
for p in amd64:amd64: arm64:arm64:v8 armv6:arm:v6; do
	IFS=: read -r name arch variant <<EOT
$p
EOT
	platform=linux/$arch
	[ "$arch" != arm ] || platform=linux/arm/$variant
	podman build --platform "$platform" -t "smarty-reader:$tag-$name" -f packaging/Containerfile "$ctx"
	podman manifest add --os linux --arch "$arch" ${variant:+--variant "$variant"} \
		"smarty-reader:$tag" "containers-storage:localhost/smarty-reader:$tag-$name"
done
podman manifest inspect "smarty-reader:$tag"
