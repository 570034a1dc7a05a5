#!/usr/bin/env bash
# Makes a private Wine prefix in which Go Windows programs run: wineboot,
# then the stand-in bcryptprimitives.dll (see bcryptprimitives.def) built
# with mingw-w64 into its system32. For the Windows tests under Wine.
#
#   packaging/wine/prefix.sh DIR
#
# Needs (Debian 12): apt-get install -y --no-install-recommends wine64 gcc-mingw-w64-x86-64-win32
# Stop the prefix's wineserver afterwards: WINEPREFIX=DIR wineserver -k
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: $0 DIR" >&2
  exit 1
fi
here=$(cd "$(dirname "$0")" && pwd)
export WINEPREFIX=$1 WINEDEBUG=-all
# Debian's wine64 package puts the loader outside PATH; the wine package
# would add a wrapper, which this does not need.
wine=$(command -v wine64 || echo /usr/lib/wine/wine64)
# No desktop integration (menus, file associations) for a throwaway prefix.
WINEDLLOVERRIDES="winemenubuilder.exe=d" "$wine" wineboot -i
# A DLL of one forwarded export: no code, so no entry point.
x86_64-w64-mingw32-gcc -shared -nostdlib -Wl,-e,0 -s \
  -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" \
  -x c /dev/null -x none "$here/bcryptprimitives.def"
