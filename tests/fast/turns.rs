//! How the files of tests/testbed/ take turns on the test bed
//! (tests/common/turns.rs), with threads named as libtest names its tests'
//! threads: one file's tests share the turn, another file's test waits until
//! all of them have ended, and a thread that runs no test takes no turn.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use crate::common::turns::{holder, take_turn, test_file};

#[test]
fn libtest_runs_each_test_on_a_thread_named_after_it() {
    assert_eq!(
        thread::current().name(),
        Some("turns::libtest_runs_each_test_on_a_thread_named_after_it")
    );
    assert_eq!(test_file().as_deref(), Some("turns"));
}

/// A thread named like the test `name` that takes its file's turn (twice:
/// still one place), says so on `taken`, and ends when told.
fn test_thread(
    name: &str,
    taken: &mpsc::Sender<String>,
) -> (mpsc::Sender<()>, thread::JoinHandle<()>) {
    let (end, ended) = mpsc::channel::<()>();
    let (taken, label) = (taken.clone(), name.to_string());
    let handle = thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            take_turn();
            take_turn();
            taken.send(label).unwrap();
            ended.recv().unwrap();
        })
        .unwrap();
    (end, handle)
}

#[test]
fn one_files_tests_share_the_turn_and_another_files_test_waits_for_all_of_them() {
    let (taken, took) = mpsc::channel();
    let (end_first, first) = test_thread("a::first", &taken);
    assert_eq!(took.recv().unwrap(), "a::first");
    let (end_second, second) = test_thread("a::second", &taken);
    assert_eq!(took.recv().unwrap(), "a::second");
    let (end_other, other) = test_thread("b::other", &taken);
    let quiet = Duration::from_millis(300);
    assert!(took.recv_timeout(quiet).is_err(), "b::other ran beside a::first and a::second");

    end_first.send(()).unwrap();
    first.join().unwrap();
    assert!(took.recv_timeout(quiet).is_err(), "b::other ran beside a::second");
    assert_eq!(holder().as_deref(), Some("a"));

    end_second.send(()).unwrap();
    second.join().unwrap();
    assert_eq!(took.recv_timeout(Duration::from_secs(10)).unwrap(), "b::other");
    assert_eq!(holder().as_deref(), Some("b"));
    end_other.send(()).unwrap();
    other.join().unwrap();
    assert_eq!(holder(), None);

    let worker = thread::Builder::new().name("tokio-runtime-worker".into());
    let held = worker.spawn(|| {
        take_turn();
        holder()
    });
    assert_eq!(held.unwrap().join().unwrap(), None);
}
