//! Time bins for survival analyses (issue 11, item 3): no sum the hub sees
//! covers fewer than k persons, k the security level's minimum cell.
//!
//! An exact Cox or Kaplan–Meier fit sums over risk sets and tied deaths per
//! event day. A day with one death hands the hub that patient's covariates
//! (the tied sums at β = 0), and two risk sets that differ by one censored
//! patient hand it theirs. So the sites move every time to the last day of a
//! bin, and the hub asks for sums only on bins that hold **0 or ≥ k exits,
//! 0 or ≥ k deaths and 0 or ≥ k censorings** across the federation. Every risk
//! set is then a union of whole bins, the difference of any two risk sets is
//! whole bins (≥ k exits), every tied-death sum covers ≥ k deaths, and the
//! difference between a bin's exits and its tied deaths (what an Efron fit's
//! sums give away: the bin's censored rows) covers ≥ k censorings. The
//! censoring rule was added after a review found that a bin of 10 exits with
//! 9 deaths let the hub subtract the tied-death sums from the risk-set
//! difference and read the one censored patient's covariates.
//!
//! The bins are found from counts only ([`Computation::ExitCounts`]: exits and
//! deaths per bin, masked like every vector): [`COARSE_BINS`] dyadic bins over
//! the horizon, merged until each is valid, then each bin with at least 2k
//! exits split into [`PIECES`] pieces and the pieces merged again into the
//! finest valid bins, one round per level and at most [`MAX_REFINEMENTS`]
//! levels. The
//! hub learns the pooled exit and death counts of the bins it tried, never a
//! covariate sum over them; a bin narrower than the final ones is never asked
//! for anything else.

use super::Rounds;
use crate::AnalysisError;
use crate::result::TimeBins;
use oncofed_protocol::analysis::Computation;

/// Bins over the horizon at the start (before merging).
pub const COARSE_BINS: u32 = 16;

/// Refinement rounds at most; with the coarse width of a 10-year horizon (256
/// days) and [`PIECES`] pieces a round, bins reach [`MIN_WIDTH`] days.
pub const MAX_REFINEMENTS: usize = 6;

/// The narrowest piece a refinement makes, in days: a round's edges then
/// number at most about half the horizon's days, within the run plan's one
/// grid point per day (a 1-day refinement of a large cohort asked for
/// horizon + 2 edges, one more than every site allows).
pub const MIN_WIDTH: usize = 2;

/// Pieces a bin is split into per refinement round (then merged again into
/// the finest valid bins).
pub const PIECES: usize = 4;

/// Bins with their pooled exit and death counts.
#[derive(Debug, Clone, PartialEq)]
pub struct Bins {
    /// Edges in days, `0 = edges[0] < … < edges[b] = horizon + 1`.
    pub edges: Vec<f64>,
    /// Exits (deaths and censorings) per bin, over all levels.
    pub exits: Vec<u64>,
    /// Deaths per bin, over all levels.
    pub deaths: Vec<u64>,
    /// The counts per level of the groups or strata (one level without), per bin.
    pub tallies: Vec<Vec<Tally>>,
}

impl Bins {
    /// The last day of every bin: the grid of the binned fit. Every bin, not
    /// only those with deaths, so that no site's death is ever off the grid: a
    /// site then never refuses for a reason that depends on its data (the
    /// grid-omission probe, where the sites with a death on an omitted day
    /// refused and so named themselves). Bins without deaths add nothing to
    /// the estimates.
    pub fn grid(&self) -> Vec<f64> {
        self.edges[1..].iter().map(|e| e - 1.0).collect()
    }

    /// What the result states about the binning.
    pub fn describe(&self) -> TimeBins {
        TimeBins {
            exact: false,
            bins: self.exits.len(),
            min_exits: self
                .exits
                .iter()
                .copied()
                .filter(|&e| e > 0)
                .min()
                .unwrap_or(0),
            narrowest_days: self
                .edges
                .windows(2)
                .map(|w| (w[1] - w[0]) as u32)
                .min()
                .unwrap_or(0),
            edges: self.edges.clone(),
        }
    }
}

/// The pooled counts of one group level in one bin.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Exits (events and censorings).
    pub exits: u64,
    /// Events (for a cumulative incidence: of either cause).
    pub events: u64,
    /// Events of the cause of interest (cumulative incidence only).
    pub cause1: Option<u64>,
    /// Rows entering follow-up in the bin (delayed entry only).
    pub entries: Option<u64>,
}

impl Tally {
    fn add(&mut self, other: &Tally) {
        let sum = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
        };
        self.exits += other.exits;
        self.events += other.events;
        self.cause1 = sum(self.cause1, other.cause1);
        self.entries = sum(self.entries, other.entries);
    }

    /// The bin may be summed over in this level: each population the hub can
    /// tell apart in it (exits, events, censorings, each cause, entries after
    /// the first bin) is 0 or at least `k`.
    fn valid(&self, k: u64, first_bin: bool) -> bool {
        let ok = |n: u64| n == 0 || n >= k;
        let causes = self
            .cause1
            .is_none_or(|c| ok(c) && ok(self.events.saturating_sub(c)));
        let entries = first_bin || self.entries.is_none_or(ok);
        ok(self.exits)
            && ok(self.events)
            && ok(self.exits.saturating_sub(self.events))
            && causes
            && entries
    }
}

/// A bin may be summed over: nobody, or at least `k` exits of which at least
/// `k` deaths or none and at least `k` censorings or none.
#[cfg(test)]
fn valid(exits: u64, deaths: u64, k: u64) -> bool {
    Tally {
        exits,
        events: deaths,
        ..Tally::default()
    }
    .valid(k, true)
}

fn all_valid(cells: &[Tally], k: u64, first_bin: bool) -> bool {
    cells.iter().all(|c| c.valid(k, first_bin))
}

/// Merges neighbouring bins until every bin is valid; `None` when even one
/// bin over the whole follow-up is not (fewer than k deaths in all).
pub fn merge(edges: &[f64], exits: &[u64], deaths: &[u64], k: u64) -> Option<Bins> {
    let level: Vec<Tally> = exits
        .iter()
        .zip(deaths)
        .map(|(&exits, &events)| Tally {
            exits,
            events,
            ..Tally::default()
        })
        .collect();
    merge_levels(edges, &[level], k)
}

/// Merges neighbouring bins into the most bins that are each valid in every
/// level (`levels[l][i]`: level l, bin i); `None` when even one bin over the
/// whole follow-up is not.
pub fn merge_levels(edges: &[f64], levels: &[Vec<Tally>], k: u64) -> Option<Bins> {
    finest_partition(edges, levels, k)
}

/// The partition of the bins `levels[l][i]` (edges `edges`, from day 0) into
/// runs of neighbouring bins, each valid in every level, with the most runs
/// that hold exits (ties: the fewest runs). A run may be empty (no exits, no
/// entries: nothing is summed over it). Found by dynamic programming over the
/// run ends, O(n² · levels), so a finer valid partition is never missed (a
/// greedy merge left grouped analyses and delayed entries with one bin over
/// the whole follow-up when an early bin was short of one group's entries).
/// `None` when not even the whole stretch is valid.
fn finest_partition(edges: &[f64], levels: &[Vec<Tally>], k: u64) -> Option<Bins> {
    let n = levels.first().map_or(0, Vec::len);
    if n == 0 || edges.len() != n + 1 {
        return None;
    }
    // best[j]: (runs with exits, runs, start of the last run) over bins 0..j
    let mut best: Vec<Option<(usize, usize, usize)>> = vec![None; n + 1];
    best[0] = Some((0, 0, 0));
    for i in 0..n {
        let Some((full, runs, _)) = best[i] else {
            continue;
        };
        let mut acc = vec![Tally::default(); levels.len()];
        for j in i + 1..=n {
            for (a, level) in acc.iter_mut().zip(levels) {
                a.add(&level[j - 1]);
            }
            let exits: u64 = acc.iter().map(|c| c.exits).sum();
            if (exits != 0 && exits < k) || !all_valid(&acc, k, i == 0) {
                continue;
            }
            let candidate = (full + usize::from(exits > 0), runs + 1, i);
            let better = best[j]
                .is_none_or(|(f, r, _)| candidate.0 > f || (candidate.0 == f && candidate.1 < r));
            if better {
                best[j] = Some(candidate);
            }
        }
    }
    best[n]?;
    // the run ends, back from the last bin
    let mut ends = vec![n];
    while let Some(&j) = ends.last() {
        if j == 0 {
            break;
        }
        ends.push(best[j]?.2);
    }
    ends.reverse();
    let mut out = Bins {
        edges: vec![edges[0]],
        exits: Vec::new(),
        deaths: Vec::new(),
        tallies: vec![Vec::new(); levels.len()],
    };
    for w in ends.windows(2) {
        let (from, to) = (w[0], w[1]);
        out.edges.push(edges[to]);
        let mut cells = vec![Tally::default(); levels.len()];
        for (c, level) in cells.iter_mut().zip(levels) {
            for t in &level[from..to] {
                c.add(t);
            }
        }
        out.exits.push(cells.iter().map(|c| c.exits).sum());
        out.deaths.push(cells.iter().map(|c| c.events).sum());
        for (l, c) in cells.into_iter().enumerate() {
            out.tallies[l].push(c);
        }
    }
    Some(out)
}

/// The coarse dyadic edges over `[0, horizon + 1)`.
pub fn coarse_edges(horizon: u32) -> Vec<f64> {
    let end = u64::from(horizon) + 1;
    let width = end.div_ceil(u64::from(COARSE_BINS)).next_power_of_two();
    let mut edges: Vec<f64> = (0..end).step_by(width as usize).map(|e| e as f64).collect();
    edges.push(end as f64);
    edges
}

fn whole(x: f64) -> u64 {
    x.round().max(0.0) as u64
}

/// One count round on `edges`: the tallies per level (`[level][bin]`; one
/// level without `levels`), checked against the totals.
fn counts(
    rounds: &mut Rounds<'_>,
    edges: &[f64],
    levels: &[f64],
) -> Result<Vec<Vec<Tally>>, AnalysisError> {
    let v = rounds.sum(Computation::ExitCounts {
        edges: edges.to_vec(),
        levels: levels.to_vec(),
    })?;
    crate::plausibility::check_whole_counts(&v, "exit counts")?;
    let b = edges.len() - 1;
    let competing = rounds.analysis.competing_risks();
    let delayed = rounds
        .analysis
        .survival()
        .is_some_and(|s| s.entry.is_some());
    let parts = 2 + usize::from(competing) + usize::from(delayed);
    if v.len() != parts * b * levels.len().max(1) {
        return Err(AnalysisError::Protocol("exit counts of the wrong length"));
    }
    let mut out = Vec::new();
    let (mut exits, mut deaths) = (vec![0.0; b], vec![0.0; b]);
    for block in v.chunks(parts * b) {
        let part = |n: usize, i: usize| whole(block[n * b + i]);
        let level: Vec<Tally> = (0..b)
            .map(|i| Tally {
                exits: part(0, i),
                events: part(1, i),
                cause1: competing.then(|| part(2, i)),
                entries: delayed.then(|| part(2 + usize::from(competing), i)),
            })
            .collect();
        for (i, t) in level.iter().enumerate() {
            exits[i] += t.exits as f64;
            deaths[i] += t.events as f64;
            if t.cause1.is_some_and(|c| c > t.events) {
                return Err(AnalysisError::Federation(
                    "implausible sums: events of one cause exceed all events in a bin".into(),
                ));
            }
        }
        out.push(level);
    }
    let (rows, events) = rounds.totals;
    crate::plausibility::check_exit_counts(&exits, &deaths, rows, events)?;
    if delayed {
        let entered: u64 = out.iter().flatten().filter_map(|t| t.entries).sum();
        if entered != rows {
            return Err(AnalysisError::Federation(
                "implausible sums: entries do not sum to the rows of the totals".into(),
            ));
        }
    }
    Ok(out)
}

/// Finds the bins of a survival analysis over `horizon` days for minimum
/// cell `k`, valid in every one of the groups' `levels` (all rows as one
/// without): the coarse count round, the merge, and up to
/// [`MAX_REFINEMENTS`] refinement rounds.
pub(super) fn time_bins(
    rounds: &mut Rounds<'_>,
    horizon: u32,
    k: u64,
    levels: &[f64],
) -> Result<Bins, AnalysisError> {
    let k = k.max(1);
    let edges = coarse_edges(horizon);
    let tallies = counts(rounds, &edges, levels)?;
    let refused = || {
        AnalysisError::Disclosure(format!(
            "no time bin can be released: in all or in one group, the follow-up has fewer \
             than {k} events, censorings or entries but some"
        ))
    };
    let mut bins = finest_partition(&edges, &tallies, k).ok_or_else(refused)?;
    // the finest bins counted so far ("atoms") and their tallies: each round
    // splits every atom wide and full enough into up to PIECES pieces, and
    // the bins are the finest valid partition of all atoms (the atoms keep
    // getting finer even where a round finds no finer valid bins, so a
    // later round can)
    let (mut atoms, mut atom_tallies) = (edges, tallies);
    for _ in 0..MAX_REFINEMENTS {
        let mut proposed = vec![atoms[0]];
        for i in 0..atoms.len() - 1 {
            let (lo, hi) = (atoms[i], atoms[i + 1]);
            let exits: u64 = atom_tallies.iter().map(|l| l[i].exits).sum();
            // pieces of at least MIN_WIDTH days: the edges of a round then
            // stay within the plan's one grid point per day of the horizon
            let n = if exits >= 2 * k {
                PIECES.min((hi - lo) as usize / MIN_WIDTH).max(1)
            } else {
                1
            };
            for q in 1..n {
                let edge = lo + ((hi - lo) * q as f64 / n as f64).floor();
                if edge > *proposed.last().unwrap_or(&lo) {
                    proposed.push(edge);
                }
            }
            proposed.push(hi);
        }
        if proposed.len() == atoms.len() {
            break;
        }
        atom_tallies = counts(rounds, &proposed, levels)?;
        atoms = proposed;
        bins = finest_partition(&atoms, &atom_tallies, k).ok_or_else(refused)?;
    }
    Ok(bins)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coarse_edges_cover_the_horizon_in_dyadic_bins() {
        let e = coarse_edges(3650);
        assert_eq!(e[0], 0.0);
        assert_eq!(e[1], 256.0);
        assert_eq!(*e.last().unwrap(), 3651.0);
        assert_eq!(coarse_edges(0), vec![0.0, 1.0]);
        assert_eq!(
            coarse_edges(15),
            (0..=16).map(f64::from).collect::<Vec<_>>()
        );
    }

    #[test]
    fn merging_leaves_no_bin_with_one_to_k_minus_one_exits_or_deaths() {
        let edges: Vec<f64> = (0..=6).map(f64::from).collect();
        let exits = [1, 5, 0, 2, 4, 1];
        let deaths = [1, 2, 0, 1, 0, 1];
        let b = merge(&edges, &exits, &deaths, 3).unwrap();
        for (e, d) in b.exits.iter().zip(&b.deaths) {
            assert!(valid(*e, *d, 3), "{b:?}");
        }
        assert_eq!(b.exits.iter().sum::<u64>(), 13);
        assert_eq!(b.deaths.iter().sum::<u64>(), 5);
        assert_eq!(*b.edges.last().unwrap(), 6.0);
        // two deaths in all can never be released with k = 3
        assert!(merge(&edges, &exits, &[0, 1, 0, 0, 0, 1], 3).is_none());
        // no deaths at all: one valid bin (the fit then reports no events)
        assert!(merge(&edges, &exits, &[0; 6], 3).is_some());
    }

    #[test]
    fn a_bin_never_holds_one_to_k_minus_one_censorings() {
        // 10 exits with 9 deaths: the tied-death sums and the risk-set
        // difference would isolate the one censored patient
        let edges: Vec<f64> = (0..=4).map(f64::from).collect();
        let exits = [10, 4, 3, 5];
        let deaths = [9, 4, 0, 3];
        let b = merge(&edges, &exits, &deaths, 3).unwrap();
        for (e, d) in b.exits.iter().zip(&b.deaths) {
            let censored = e - d;
            assert!(censored == 0 || censored >= 3, "{b:?}");
        }
        assert_eq!(b.exits.iter().sum::<u64>(), 22);
        // all deaths but one censoring in the whole follow-up: nothing releasable
        assert!(merge(&edges[..2], &[10], &[9], 3).is_none());
    }
}
