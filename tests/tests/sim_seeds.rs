//! A sweep of random fault schedules with the checkers on; the CLI runs 2,000 more.

use viewstamp_core::sim::explore::{run_seed, ExploreOptions};

fn sweep(seeds: std::ops::Range<u64>, options: ExploreOptions) {
    for seed in seeds {
        let outcome = run_seed(seed, &options);
        assert!(
            outcome.passed,
            "seed {seed} failed:\n{}\nreproduce with this script:\n{}",
            outcome.failure.join("\n"),
            outcome.script
        );
    }
}

#[test]
fn three_replicas_default_faults() {
    sweep(0..60, ExploreOptions::default());
}

#[test]
fn five_replicas_default_faults() {
    sweep(1000..1030, ExploreOptions { replicas: 5, ..ExploreOptions::default() });
}

#[test]
fn three_replicas_and_a_standby() {
    sweep(2000..2030, ExploreOptions { standbys: 1, ..ExploreOptions::default() });
}
