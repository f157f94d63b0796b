#!/usr/bin/env bash
# CI: let the runner's user open /dev/kvm, so the Android emulator runs with hardware acceleration
# (GitHub's Linux runners have KVM, but its device node is root-only). Needs sudo; a no-op where
# /dev/kvm is already usable. Used by .github/workflows/android.yml before the emulator starts.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then log "/dev/kvm is usable already"; exit 0; fi
[ -e /dev/kvm ] || die "no /dev/kvm on this machine: the x86_64 emulator would be too slow"
echo 'KERNEL=="kvm", GROUP="kvm", MODE="0666", OPTIONS+="static_node=kvm"' |
  sudo tee /etc/udev/rules.d/99-kvm4all.rules >/dev/null
sudo udevadm control --reload-rules
sudo udevadm trigger --name-match=kvm
log "ok: /dev/kvm opened to all users"
