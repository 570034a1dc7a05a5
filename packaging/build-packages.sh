#!/usr/bin/env bash
# Build the Linux packages of ocm-tray:
#
#   packaging/build-packages.sh
#
# gives dist/ocm-tray_<version>_amd64.deb and dist/ocm-tray-<version>.x86_64.rpm.
# It needs Go only: the binary is static (CGO_ENABLED=0), and nfpm, the
# packager, is installed at a pinned version into dist/tools (the first run
# fetches it through the Go module proxy; dist/ is not tracked by git).
#
# Environment:
#   VERSION     package and --version string; default: from `git describe`
#               (tag v1.2.3 -> 1.2.3, 4 commits later -> 1.2.3+4.gabc1234),
#               0.0.0+g<commit> without a tag. Must start with a digit.
#   GOARCH      amd64 (default) or arm64
#   MAINTAINER  the packages' Maintainer/Packager field
#   ICON_DIR    where the app icons app_<size>.png and app.svg are
#               (default assets/icons/app, written by assets/icons/gen)
set -euo pipefail

# Pinned. v2.46 and later pull go.digitalxero.dev modules, which the Go module
# proxy refused (403) when this was written; check before raising it.
NFPM_VERSION=v2.45.2

cd "$(dirname "$0")/.."
root=$PWD

die() { echo "build-packages: $*" >&2; exit 1; }

# --- version --------------------------------------------------------------
if [[ -z "${VERSION:-}" ]]; then
	if desc=$(git describe --tags --match 'v[0-9]*' --abbrev=7 --dirty 2>/dev/null); then
		# v1.2.3 | v1.2.3-dirty | v1.2.3-4-gabc1234 | v1.2.3-4-gabc1234-dirty
		desc=${desc#v}
		dirty=
		[[ $desc == *-dirty ]] && { dirty=.dirty; desc=${desc%-dirty}; }
		if [[ $desc =~ ^(.*)-([0-9]+)-(g[0-9a-f]+)$ ]]; then
			VERSION="${BASH_REMATCH[1]}+${BASH_REMATCH[2]}.${BASH_REMATCH[3]}$dirty"
		else
			VERSION="$desc${dirty:++dirty}"
		fi
	elif commit=$(git rev-parse --short=7 HEAD 2>/dev/null); then
		VERSION="0.0.0+g$commit"
		[[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]] && VERSION+=.dirty
	else
		VERSION=0.0.0
	fi
fi
[[ $VERSION =~ ^[0-9][0-9A-Za-z.+~-]*$ ]] ||
	die "VERSION=$VERSION: use digits, letters and . + ~ - only, starting with a digit"
export VERSION

GOARCH=${GOARCH:-amd64}
case $GOARCH in
amd64) rpm_arch=x86_64 ;;
arm64) rpm_arch=aarch64 ;;
*) die "GOARCH=$GOARCH: only amd64 and arm64 are packaged" ;;
esac
export NFPM_ARCH=$GOARCH
export MAINTAINER=${MAINTAINER:-"ocm-tray authors <https://github.com/OpenCircuitDev/ocm-tray>"}

dist=$root/dist
export BUILD_DIR=$dist/build/linux-$GOARCH
export STAGE_DIR=$dist/build/stage-$GOARCH
tools=$dist/tools
rm -rf "$BUILD_DIR" "$STAGE_DIR"
mkdir -p "$BUILD_DIR" "$STAGE_DIR" "$tools"

# --- binary ---------------------------------------------------------------
echo "build-packages: ocm-tray $VERSION linux/$GOARCH"
CGO_ENABLED=0 GOOS=linux GOARCH=$GOARCH \
	go build -trimpath -ldflags "-s -w -X main.version=$VERSION" \
	-o "$BUILD_DIR/ocm-tray" ./cmd/ocm-tray

# --- nfpm -----------------------------------------------------------------
nfpm=$tools/nfpm
if ! go version -m "$nfpm" 2>/dev/null | grep -q "github.com/goreleaser/nfpm/v2[[:space:]]*$NFPM_VERSION\b"; then
	echo "build-packages: installing nfpm $NFPM_VERSION into ${tools#"$root"/}"
	# The host's platform, whatever GOARCH the package is for; outside any
	# module settings of this repository.
	env -u GOOS -u GOARCH -u GOFLAGS CGO_ENABLED=0 GOBIN="$tools" \
		go install "github.com/goreleaser/nfpm/v2/cmd/nfpm@$NFPM_VERSION"
fi

# --- icons ----------------------------------------------------------------
# $ICON_DIR/app_<size>.png becomes hicolor/<size>x<size>/apps/ocm-tray.png,
# app.svg hicolor/scalable/apps/ocm-tray.svg. Each PNG's real size is checked
# against its name: a theme looks an icon up by its directory.
icon_dir=${ICON_DIR:-assets/icons/app}
png_size() { # width x height, from the IHDR chunk
	od -An -tu1 -j16 -N8 "$1" | awk '{print $1*16777216+$2*65536+$3*256+$4 "x" $5*16777216+$6*65536+$7*256+$8}'
}
n_icons=0
shopt -s nullglob
for f in "$icon_dir"/app[_-]*.png; do
	size=$(basename "$f" .png)
	size=${size#app[_-]}
	[[ $size =~ ^[0-9]+$ ]] || die "$f: want app_<size>.png"
	[[ $(png_size "$f") == "${size}x${size}" ]] ||
		die "$f: is $(png_size "$f") pixels, its name says ${size}x${size}"
	mkdir -p "$STAGE_DIR/hicolor/${size}x${size}/apps"
	cp "$f" "$STAGE_DIR/hicolor/${size}x${size}/apps/ocm-tray.png"
	n_icons=$((n_icons + 1))
done
if [[ -f $icon_dir/app.svg ]]; then
	mkdir -p "$STAGE_DIR/hicolor/scalable/apps"
	cp "$icon_dir/app.svg" "$STAGE_DIR/hicolor/scalable/apps/ocm-tray.svg"
	n_icons=$((n_icons + 1))
fi
((n_icons > 0)) || die "no app icon in $icon_dir (want app_<size>.png and/or app.svg)"

# --- packages -------------------------------------------------------------
# The same commit gives the same packages: file times are the commit's.
if [[ -z "${SOURCE_DATE_EPOCH:-}" ]] && t=$(git log -1 --format=%ct 2>/dev/null); then
	export SOURCE_DATE_EPOCH=$t
fi
deb=$dist/ocm-tray_${VERSION}_${GOARCH}.deb
rpm=$dist/ocm-tray-${VERSION}.${rpm_arch}.rpm
rm -f "$deb" "$rpm"
"$nfpm" package --config packaging/nfpm.yaml --packager deb --target "$deb"
"$nfpm" package --config packaging/nfpm.yaml --packager rpm --target "$rpm"
# For packaging/ci-check-packages.sh and other scripts: what was just built.
printf 'VERSION=%q\nDEB=%q\nRPM=%q\n' "$VERSION" "$deb" "$rpm" >"$dist/build/last-build.env"
ls -l "$deb" "$rpm"
