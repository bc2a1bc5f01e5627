//! Stopping a command on SIGINT or SIGTERM: the first signal sets a flag that every reader and
//! loop watches, so the command ends promptly with whole outputs and its summary (exit status
//! 130); a third signal, for a command stuck in a write it cannot leave, ends the process at
//! once.
use anyhow::{Context, Result};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// Signals received so far.
static SIGNALS: AtomicUsize = AtomicUsize::new(0);

/// A flag SIGINT and SIGTERM set.
pub fn on_signals() -> Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stop.clone()).context("cannot handle SIGINT and SIGTERM")?;
        // SAFETY: the action only touches an atomic and calls _exit, both async-signal-safe.
        #[allow(unsafe_code)]
        unsafe {
            signal_hook::low_level::register(signal, || {
                if SIGNALS.fetch_add(1, Ordering::Relaxed) >= 2 {
                    signal_hook::low_level::exit(130);
                }
            })
        }
        .context("cannot handle SIGINT and SIGTERM")?;
    }
    Ok(stop)
}
