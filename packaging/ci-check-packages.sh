#!/usr/bin/env bash
# CI check of the Linux packages: build them, install the .deb, run the
# installed binary, check what was installed, remove it again, and list the
# .rpm. Debian/Ubuntu runner; needs root or sudo for dpkg.
#
#   sudo apt-get install -y desktop-file-utils rpm
#   packaging/ci-check-packages.sh
#
# Without rpm (or desktop-file-validate, systemd-analyze) those checks are
# skipped with a note, except under CI=true, where a missing rpm or
# desktop-file-validate fails.
set -euo pipefail

cd "$(dirname "$0")/.."

fail() { echo "ci-check-packages: FAIL: $*" >&2; exit 1; }
note() { echo "ci-check-packages: $*"; }
need() { # tool, apt package
	command -v "$1" >/dev/null && return 0
	[[ "${CI:-}" == true ]] && fail "$1 not found; install the apt package $2"
	note "$1 not found (apt package $2): skipping its check"
	return 1
}

sudo=
[[ $EUID -eq 0 ]] || sudo=sudo

packaging/build-packages.sh
# shellcheck source=/dev/null
source dist/build/last-build.env # VERSION, DEB, RPM

# Files both packages must hold; hicolor icons are checked apart (any size).
want=(
	/usr/bin/ocm-tray
	/usr/share/applications/ocm-tray.desktop
	/usr/share/ocm-tray/autostart/ocm-tray.desktop
	/usr/lib/systemd/user/ocm-tray.service
)
check_list() { # package name, file listing
	local pkg=$1 list=$2 f
	for f in "${want[@]}"; do
		grep -qx "$f" <<<"$list" || fail "$pkg lacks $f"
	done
	grep -qE '^/usr/share/icons/hicolor/[0-9]+x[0-9]+/apps/ocm-tray\.png$' <<<"$list" ||
		fail "$pkg has no hicolor app icon"
	# Autostart is the user's choice: nothing may enable it system-wide.
	! grep -q '^/etc/' <<<"$list" || fail "$pkg installs into /etc: $(grep '^/etc/' <<<"$list")"
}

# --- .deb -----------------------------------------------------------------
deb_list=$(dpkg-deb --fsys-tarfile "$DEB" | tar -t | sed -e 's|^\./|/|' -e 's|/$||')
check_list "$DEB" "$deb_list"
grep -qx /usr/share/doc/ocm-tray/copyright <<<"$deb_list" || fail "$DEB lacks /usr/share/doc/ocm-tray/copyright"

note "installing $DEB"
$sudo dpkg -i "$DEB"
out=$(/usr/bin/ocm-tray --version) || fail "/usr/bin/ocm-tray --version exited $?"
note "/usr/bin/ocm-tray --version: $out"
[[ $out == *"$VERSION"* ]] || fail "--version printed \"$out\", want it to contain $VERSION"
# Static, without cgo, as built.
go version -m /usr/bin/ocm-tray | grep -q 'CGO_ENABLED=0' || fail "/usr/bin/ocm-tray was not built with CGO_ENABLED=0"
if need desktop-file-validate desktop-file-utils; then
	desktop-file-validate /usr/share/applications/ocm-tray.desktop /usr/share/ocm-tray/autostart/ocm-tray.desktop ||
		fail "installed desktop entries do not validate"
fi
if command -v systemd-analyze >/dev/null; then
	# --user needs a runtime directory, which a CI shell may not have.
	rt=${XDG_RUNTIME_DIR:-}
	if [[ -z $rt ]]; then rt=$(mktemp -d); chmod 700 "$rt"; fi
	XDG_RUNTIME_DIR=$rt systemd-analyze verify --user /usr/lib/systemd/user/ocm-tray.service ||
		fail "systemd-analyze verify rejects the user unit"
else
	note "systemd-analyze not found: skipping the unit check"
fi
installed_kb=$(dpkg-query -W -f='${Installed-Size}' ocm-tray)

note "removing ocm-tray"
$sudo dpkg -r ocm-tray
[[ ! -e /usr/bin/ocm-tray ]] || fail "/usr/bin/ocm-tray still there after dpkg -r"

# --- .rpm -----------------------------------------------------------------
if need rpm rpm; then
	rpm_list=$(rpm -qpl "$RPM")
	check_list "$RPM" "$rpm_list"
	grep -qx /usr/share/licenses/ocm-tray/LICENSE <<<"$rpm_list" || fail "$RPM lacks its %license file"
	requires=$(rpm -qp --requires "$RPM" | grep -v '^rpmlib(' || true)
	[[ -z $requires ]] || fail "$RPM requires $requires; a static binary needs nothing"
	echo "$rpm_list"
fi

# --- sizes ----------------------------------------------------------------
echo
echo "ocm-tray $VERSION"
printf '  %-45s %8s KiB\n' "$(basename "$DEB")" $(($(stat -c %s "$DEB") / 1024))
printf '  %-45s %8s KiB\n' "$(basename "$RPM")" $(($(stat -c %s "$RPM") / 1024))
printf '  %-45s %8s KiB\n' "installed (dpkg Installed-Size)" "$installed_kb"
note "ok"
