//! Summary statistics over samples in microseconds.

use serde::Serialize;

#[derive(Debug, Clone, Copy, Serialize, Default)]
pub struct Summary {
    pub count: usize,
    pub min_ms: f64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Summary {
    pub fn of_us(samples: &[u64]) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        let ms = |us: u64| us as f64 / 1000.0;
        // Nearest-rank percentile.
        let pct = |p: f64| {
            let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
            ms(sorted[rank.clamp(1, sorted.len()) - 1])
        };
        Self {
            count: sorted.len(),
            min_ms: ms(sorted[0]),
            mean_ms: sorted.iter().sum::<u64>() as f64 / sorted.len() as f64 / 1000.0,
            p50_ms: pct(50.0),
            p99_ms: pct(99.0),
            max_ms: ms(sorted[sorted.len() - 1]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let samples: Vec<u64> = (1..=100).map(|i| i * 1000).collect();
        let s = Summary::of_us(&samples);
        assert_eq!(s.count, 100);
        assert_eq!(s.min_ms, 1.0);
        assert_eq!(s.p50_ms, 50.0);
        assert_eq!(s.p99_ms, 99.0);
        assert_eq!(s.max_ms, 100.0);
        assert_eq!(s.mean_ms, 50.5);
    }

    #[test]
    fn one_sample_is_every_statistic() {
        let s = Summary::of_us(&[2500]);
        assert_eq!(
            (s.min_ms, s.p50_ms, s.p99_ms, s.max_ms),
            (2.5, 2.5, 2.5, 2.5)
        );
        assert_eq!(Summary::of_us(&[]).count, 0);
    }
}
