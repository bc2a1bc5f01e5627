//! Runs detunnel with a terminal, as a user at a shell has: a pseudo-terminal of the test's own
//! (no `script`, whose handling of a closed standard input differs between versions), a deadline
//! that fails the test rather than hanging it, and the child killed when the test has seen enough.

use std::fs::File;
use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a command on a terminal may run before the test fails.
const DEADLINE: Duration = Duration::from_secs(120);

/// Runs `detunnel args` with standard output and error on a new pseudo-terminal (and standard
/// input too when `stdin_terminal`; nothing is ever typed on it) and returns all it wrote. The
/// command is killed once `enough` holds for what it wrote so far; a command that neither ends
/// nor satisfies `enough` within the deadline fails the test with its output.
pub fn on_terminal(args: &[&str], stdin_terminal: bool, enough: impl Fn(&str) -> bool) -> String {
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty writes two descriptors into the integers given; the other arguments may
    // be null (no name, default termios and window size).
    let made = unsafe {
        libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), std::ptr::null())
    };
    assert_eq!(made, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just opened and are owned by nothing else.
    let (mut master, slave) = unsafe { (File::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let mut command = Command::new(super::detunnel());
    command.args(args);
    command.stdout(slave.try_clone().unwrap()).stderr(slave.try_clone().unwrap());
    command.stdin(if stdin_terminal {
        Stdio::from(slave)
    } else {
        drop(slave);
        Stdio::null()
    });
    let mut child = command.spawn().unwrap();
    // The terminal ends (reads fail with EIO) once no process holds its other side.
    drop(command);
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = master.read(&mut buf) {
            if tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + DEADLINE;
    let mut seen = Vec::new();
    let mut killed = false;
    loop {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(bytes) => seen.extend_from_slice(&bytes),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        let text = String::from_utf8_lossy(&seen);
        if !killed && (enough(&text) || Instant::now() > deadline) {
            let _ = child.kill();
            killed = true;
            assert!(
                enough(&text),
                "still running after {DEADLINE:?} on a terminal: detunnel {args:?}\n{text}"
            );
        }
    }
    child.wait().unwrap();
    reader.join().unwrap();
    String::from_utf8_lossy(&seen).into_owned()
}
