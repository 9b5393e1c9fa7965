#!/usr/bin/env bash
# Install trailcam on a fresh Raspberry Pi OS Lite (Bookworm, 64-bit; Zero 2 W / 4 / 5).
#
#   sudo deploy/install.sh              install or update (idempotent: a second run changes nothing)
#   deploy/install.sh --dry-run         print every step and what it would do; change nothing
#   sudo deploy/install.sh --hw-watchdog   also arm the SoC's hardware watchdog (RuntimeWatchdogSec)
#
# Steps: apt packages, service user, folders, virtual environment (--system-site-packages, since
# picamera2 comes from apt), the package with its `pi` extra, /etc/trailcam/config.toml from the
# example (kept if present), credential placeholders, the interfaces the config needs
# (camera, serial, I2C, SPI), the systemd unit.
set -euo pipefail

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX=/opt/trailcam
VENV="$PREFIX/venv"
ETC=/etc/trailcam
CREDS="$ETC/credentials"
DATA=/var/lib/trailcam
SVC_USER=trailcam
GROUPS_WANTED=(video gpio i2c spi dialout)
UNIT_SRC="$SRC/deploy/trailcam.service"
UNIT_DST=/etc/systemd/system/trailcam.service
WATCHDOG_CONF=/etc/systemd/system.conf.d/trailcam-watchdog.conf
BOOT_CONFIG=/boot/firmware/config.txt
APT_PACKAGES=(python3-picamera2 python3-venv python3-pip python3-lgpio python3-spidev
              python3-smbus2 mosquitto-clients i2c-tools sqlite3 ca-certificates)
CREDENTIALS=(mqtt-password mqtt-client-key lora-app-key)

DRY_RUN=0
HW_WATCHDOG=0
START=1
CHANGED=0
REBOOT=0
STEP=0

usage() {
    sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    cat <<'EOF'
Options:
  --dry-run       print the plan (each step, and the commands it would run); change nothing
  --hw-watchdog   set RuntimeWatchdogSec=15 for systemd (the bcm2835 watchdog allows at most 15 s)
  --no-start      install and enable, but do not (re)start the service
  -h, --help      this text
EOF
}

while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) DRY_RUN=1 ;;
        --hw-watchdog) HW_WATCHDOG=1 ;;
        --no-start) START=0 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done

step() { STEP=$((STEP + 1)); echo; echo "[$STEP] $*"; }
ok()   { echo "    = $*"; }
note() { echo "    ! $*"; }
# run CMD...: print it; run it unless --dry-run; count it as a change
run() {
    echo "    + $*"
    CHANGED=$((CHANGED + 1))
    if [ "$DRY_RUN" -eq 0 ]; then "$@"; fi
}
have() { command -v "$1" >/dev/null 2>&1; }

# the values a section of the config file asks for (read with the system python's tomllib)
config_needs() {
    local cfg="$1"
    python3 - "$cfg" <<'EOF'
import sys, tomllib
try:
    with open(sys.argv[1], "rb") as f:
        c = tomllib.load(f)
except FileNotFoundError:
    c = {}
need = ["camera"]
battery = c.get("health", {}).get("battery", "none")
if battery == "mcp3008":
    need.append("spi")
if battery == "ina219":
    need.append("i2c")
up = c.get("uplink", {})
if up.get("enabled") and up.get("lora", {}).get("enabled"):
    need.append("serial")
print(" ".join(need))
EOF
}

echo "trailcam installer — source $SRC$([ "$DRY_RUN" -eq 1 ] && echo ' (dry run: nothing is changed)')"

# ------------------------------------------------------------------------------------------
step "platform"
if [ "$DRY_RUN" -eq 0 ] && [ "$(id -u)" -ne 0 ]; then
    echo "install.sh: run as root (sudo), or with --dry-run to see the plan" >&2
    exit 1
fi
codename="$( (. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-unknown}") || echo unknown)"
if [ "$codename" = bookworm ]; then ok "Debian/Raspberry Pi OS bookworm"; else note "expected bookworm, found '$codename': continuing"; fi
case "$(uname -m)" in
    aarch64) ok "64-bit ARM" ;;
    *) note "expected aarch64 (64-bit Raspberry Pi OS), found $(uname -m)" ;;
esac
[ -f "$UNIT_SRC" ] || { echo "install.sh: $UNIT_SRC missing: run from a trailcam checkout" >&2; exit 1; }
[ -f "$SRC/deploy/config.example.toml" ] || { echo "install.sh: deploy/config.example.toml missing" >&2; exit 1; }

# ------------------------------------------------------------------------------------------
step "apt packages: ${APT_PACKAGES[*]}"
missing=()
for p in "${APT_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
if [ ${#missing[@]} -eq 0 ]; then
    ok "all installed"
else
    run apt-get update
    # no recommends: python3-picamera2 would otherwise pull the Qt preview stack into Lite
    run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi

# ------------------------------------------------------------------------------------------
step "service user '$SVC_USER' in groups ${GROUPS_WANTED[*]}"
if id -u "$SVC_USER" >/dev/null 2>&1; then
    ok "user exists"
else
    run useradd --system --user-group --home-dir "$DATA" --no-create-home --shell /usr/sbin/nologin "$SVC_USER"
fi
for g in "${GROUPS_WANTED[@]}"; do
    if ! getent group "$g" >/dev/null; then
        note "group '$g' does not exist here (Raspberry Pi OS creates it): skipped"
    elif id -nG "$SVC_USER" 2>/dev/null | tr ' ' '\n' | grep -qx "$g"; then
        ok "in group $g"
    else
        run usermod -aG "$g" "$SVC_USER"
    fi
done

# ------------------------------------------------------------------------------------------
# ensure_dir PATH OWNER GROUP MODE
ensure_dir() {
    local path="$1" owner="$2" group="$3" mode="$4"
    if [ -d "$path" ] && [ "$(stat -c '%U:%G %a' "$path" 2>/dev/null)" = "$owner:$group $mode" ]; then
        ok "$path ($owner:$group $mode)"
    else
        run install -d -o "$owner" -g "$group" -m "$mode" "$path"
    fi
}
step "folders"
ensure_dir "$PREFIX" root root 755
ensure_dir "$ETC" root "$SVC_USER" 770
ensure_dir "$CREDS" root root 700
ensure_dir "$DATA" "$SVC_USER" "$SVC_USER" 750

# ------------------------------------------------------------------------------------------
step "virtual environment $VENV (--system-site-packages: picamera2 and libcamera come from apt)"
if [ -x "$VENV/bin/python" ] && grep -q '^include-system-site-packages = true' "$VENV/pyvenv.cfg" 2>/dev/null; then
    ok "present, sees system packages"
else
    [ -d "$VENV" ] && run rm -rf "$VENV"
    run python3 -m venv --system-site-packages "$VENV"
fi

# ------------------------------------------------------------------------------------------
step "package trailcam[pi] from $SRC"
# a fingerprint of what would be installed: the second run with the same source changes nothing
src_hash="$(cd "$SRC" && find pyproject.toml firmware hw_sim models deploy -type f \
    ! -path '*/__pycache__/*' ! -name '*.pyc' 2>/dev/null | LC_ALL=C sort | xargs -r sha256sum | sha256sum | cut -c1-16)"
stamp="$PREFIX/.installed-source"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$src_hash" ] && [ -x "$VENV/bin/trailcam" ]; then
    ok "source $src_hash already installed"
else
    run "$VENV/bin/pip" install --quiet --upgrade "$SRC[pi]"
    if [ -d "$SRC/models" ]; then
        run rm -rf "$PREFIX/models"
        run cp -r "$SRC/models" "$PREFIX/models"
    fi
    run cp "$SRC/deploy/README-install.md" "$PREFIX/README-install.md"
    echo "    + echo $src_hash > $stamp"
    CHANGED=$((CHANGED + 1))
    [ "$DRY_RUN" -eq 1 ] || echo "$src_hash" > "$stamp"
fi

# ------------------------------------------------------------------------------------------
step "configuration $ETC/config.toml"
if [ -f "$ETC/config.toml" ]; then
    ok "present: kept as it is"
else
    run install -o "$SVC_USER" -g "$SVC_USER" -m 640 "$SRC/deploy/config.example.toml" "$ETC/config.toml"
    note "edit $ETC/config.toml (device.id, uplink) and run: $VENV/bin/trailcam validate-config $ETC/config.toml"
fi
if [ "$DRY_RUN" -eq 0 ]; then
    "$VENV/bin/trailcam" validate-config "$ETC/config.toml"
else
    echo "    + $VENV/bin/trailcam validate-config $ETC/config.toml   (check only)"
fi

# ------------------------------------------------------------------------------------------
step "credentials in $CREDS (read by systemd LoadCredential=, never by the config file)"
for c in "${CREDENTIALS[@]}"; do
    if [ -f "$CREDS/$c" ]; then
        ok "$c present"
    else
        # an empty placeholder: LoadCredential= refuses to start a unit whose source is missing
        run install -o root -g root -m 600 /dev/null "$CREDS/$c"
    fi
done

# ------------------------------------------------------------------------------------------
cfg_for_needs="$ETC/config.toml"
[ -f "$cfg_for_needs" ] || cfg_for_needs="$SRC/deploy/config.example.toml"
needs="$(config_needs "$cfg_for_needs")"
step "interfaces the configuration needs: $needs"
# raspi-config nonint get_X prints 0 when X is enabled (shell convention)
rc_enabled() { [ "$(raspi-config nonint "get_$1" 2>/dev/null)" = "0" ]; }
for need in $needs; do
    case "$need" in
        camera)
            if grep -qs '^camera_auto_detect=1' "$BOOT_CONFIG"; then
                ok "camera: camera_auto_detect=1 in $BOOT_CONFIG"
            elif [ -f "$BOOT_CONFIG" ] || [ "$DRY_RUN" -eq 1 ]; then
                run sh -c "sed -i '/^camera_auto_detect=/d' $BOOT_CONFIG && echo camera_auto_detect=1 >> $BOOT_CONFIG"
                REBOOT=1
            else
                note "camera: $BOOT_CONFIG not found (not a Raspberry Pi): skipped"
            fi ;;
        spi|i2c)
            if ! have raspi-config; then
                note "$need: raspi-config not found (not Raspberry Pi OS): would run raspi-config nonint do_$need 0"
            elif rc_enabled "$need"; then
                ok "$need enabled"
            else
                run raspi-config nonint "do_$need" 0
                REBOOT=1
            fi ;;
        serial)
            # the modem needs the UART, and the UART must not carry a login console
            if ! have raspi-config; then
                note "serial: raspi-config not found: would run raspi-config nonint do_serial_hw 0 and do_serial_cons 1"
            else
                if rc_enabled serial_hw; then ok "serial port enabled"; else run raspi-config nonint do_serial_hw 0; REBOOT=1; fi
                if rc_enabled serial_cons; then run raspi-config nonint do_serial_cons 1; REBOOT=1; else ok "no serial console"; fi
            fi ;;
    esac
done

# ------------------------------------------------------------------------------------------
step "hardware watchdog (systemd RuntimeWatchdogSec)"
if [ "$HW_WATCHDOG" -eq 1 ]; then
    want=$'[Manager]\nRuntimeWatchdogSec=15\nRebootWatchdogSec=2min'
    if [ "$(cat "$WATCHDOG_CONF" 2>/dev/null)" = "$want" ]; then
        ok "$WATCHDOG_CONF present"
    else
        run install -d -m 755 "$(dirname "$WATCHDOG_CONF")"
        echo "    + write $WATCHDOG_CONF: RuntimeWatchdogSec=15, RebootWatchdogSec=2min"
        CHANGED=$((CHANGED + 1))
        [ "$DRY_RUN" -eq 1 ] || printf '%s\n' "$want" > "$WATCHDOG_CONF"
        REBOOT=1
    fi
else
    ok "not requested (add --hw-watchdog: the SoC reboots the board if systemd itself hangs)"
fi

# ------------------------------------------------------------------------------------------
step "systemd unit $UNIT_DST"
unit_changed=0
if cmp -s "$UNIT_SRC" "$UNIT_DST"; then
    ok "up to date"
else
    run install -o root -g root -m 644 "$UNIT_SRC" "$UNIT_DST"
    run systemctl daemon-reload
    unit_changed=1
fi
if have systemd-analyze && [ "$DRY_RUN" -eq 0 ]; then
    systemd-analyze verify "$UNIT_DST"
else
    echo "    + systemd-analyze verify $UNIT_DST   (check only)"
fi
if [ "$(systemctl is-enabled trailcam.service 2>/dev/null || true)" = "enabled" ]; then
    ok "enabled at boot"
else
    run systemctl enable trailcam.service
fi
if [ "$START" -eq 0 ]; then
    ok "not started (--no-start)"
elif [ "$REBOOT" -eq 1 ]; then
    note "interfaces changed: the service starts after the reboot"
elif systemctl is-active --quiet trailcam.service 2>/dev/null && [ "$unit_changed" -eq 0 ] && [ "$CHANGED" -eq 0 ]; then
    ok "running"
elif systemctl is-active --quiet trailcam.service 2>/dev/null; then
    run systemctl restart trailcam.service
else
    run systemctl start trailcam.service
fi

# ------------------------------------------------------------------------------------------
echo
if [ "$DRY_RUN" -eq 1 ]; then
    echo "dry run: $CHANGED change(s) would be made; nothing was changed"
elif [ "$CHANGED" -eq 0 ]; then
    echo "nothing to do: trailcam is installed and up to date"
else
    echo "done: $CHANGED change(s)"
fi
if [ "$REBOOT" -eq 1 ]; then
    echo "reboot needed for the interface / watchdog changes: sudo reboot"
fi
echo "check the installation with: sudo -u $SVC_USER $VENV/bin/trailcam doctor --config $ETC/config.toml"
