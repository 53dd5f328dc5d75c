# Sourced by the scripts that run cargo: finds the Rust toolchain, or says
# exactly why it is missing. `sudo` resets PATH to its secure_path (and
# usually HOME to /root), so a toolchain installed by rustup in the user's
# home vanishes under a plain `sudo ./scripts/…`.

# Under `sudo -E env "PATH=$PATH" …` cargo is found but rustup's proxy may
# look for its toolchains in root's home: point it at the invoking user's.
if [ -n "${SUDO_USER:-}" ] && [ -z "${RUSTUP_HOME:-}" ]; then
  sudo_home=$(getent passwd "$SUDO_USER" | cut -d: -f6)
  if [ -n "$sudo_home" ] && [ -d "$sudo_home/.rustup" ] && [ ! -d "${HOME:-/root}/.rustup" ]; then
    export RUSTUP_HOME="$sudo_home/.rustup" CARGO_HOME="${CARGO_HOME:-$sudo_home/.cargo}"
  fi
fi

if ! command -v cargo >/dev/null 2>&1; then
  script=${0#./}
  case "$script" in /*) run=$script ;; *) run=./$script ;; esac
  if [ -n "${SUDO_USER:-}" ]; then
    cat >&2 <<MSG
$script: cargo is not on PATH: sudo replaced PATH with its secure_path, so
the Rust toolchain of $SUDO_USER is not found. Keep it with
    sudo -E env "PATH=\$PATH" $run
or run the script from a root shell that has its own toolchain (sudo -i, then rustup).
MSG
  else
    cat >&2 <<MSG
$script: cargo is not on PATH. Install a Rust toolchain with rustup
(https://rustup.rs), open a new shell (or: . "\$HOME/.cargo/env"), and run it again.
MSG
  fi
  exit 1
fi
