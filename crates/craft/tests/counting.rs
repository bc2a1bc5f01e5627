//! The counting allocator sees allocations (so that tests relying on it prove something).
use craft::counting::{allocations_in, Counting};

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn counts_allocations_of_this_thread() {
    let (n, v) = allocations_in(|| vec![1u8; 100]);
    assert_eq!(v.len(), 100);
    assert_eq!(n, 1);
    let (n, ()) = allocations_in(|| ());
    assert_eq!(n, 0);
}
