//! Issue 13, item 5, at the site: a hub that claims a site dropped out cannot
//! use the claim for a differencing attack. A real agent (site-1) runs with
//! three peers (site-2 … site-4) whose keys the test holds; the test plays the
//! hub. The site signs a split that drops a site only if it is the run's one
//! survivor set and the cohort's one site set under the repeat rule, which
//! then binds the cohort to the survivors; every other split is refused with
//! the constant text and binds nothing.

mod support;

use oncofed_crypto::SigningKeyPair;
use oncofed_node::agent::{AgentConfig, AnalysisRuns};
use oncofed_protocol::QueryId;
use oncofed_protocol::analysis::{AnalysisReply, AnalysisStep, Computation};
use oncofed_secagg::{EncryptedShare, REFUSAL_TEXT, RoundId, SiteId as AggIndex, UnmaskRequest};
use support::{Agent, agent_config, ingested_site_1, key_run};

static HUB: std::sync::LazyLock<SigningKeyPair> =
    std::sync::LazyLock::new(SigningKeyPair::generate);

/// The peers' names (indices 1, 2, 3; site-1 is index 0).
const PEERS: [&str; 3] = ["site-2", "site-3", "site-4"];

/// A describe run over the cohort "index C, sex `sex`" (the repeat rule's key).
fn prepare(run: &QueryId, sex: &str) -> AnalysisStep {
    support::prepare_describe(run, Some(serde_json::json!({ "sex": sex })), &HUB)
}

/// One run, driven by the test as the hub, with honest peers: admitted,
/// keyed (two rounds), shared; `mask(r)` has the agent mask round `r`.
struct Run<'a> {
    agent: &'a Agent,
    runs: AnalysisRuns,
    id: QueryId,
    rounds: Vec<RoundId>,
    /// Per round, the shares the peers encrypted for site-1.
    inboxes: Vec<Vec<EncryptedShare>>,
}

impl<'a> Run<'a> {
    async fn start(agent: &'a Agent, keys: &[SigningKeyPair], sex: &str) -> Run<'a> {
        let (runs, id) = (AnalysisRuns::default(), QueryId::random());
        let step = |s| agent.step(&runs, &id, s);
        assert_eq!(step(prepare(&id, sex)).await, Ok(AnalysisReply::Admitted));
        let rounds: Vec<RoundId> = (0..2)
            .map(|i| RoundId::new(format!("{id}/{i}")).unwrap())
            .collect();
        let peers: Vec<(&str, &SigningKeyPair)> = PEERS.iter().copied().zip(keys).collect();
        let inboxes = key_run(agent, &runs, &id, &rounds, &peers, 3).await;
        Run {
            agent,
            runs,
            id,
            rounds,
            inboxes,
        }
    }

    async fn step(&self, step: AnalysisStep) -> Result<AnalysisReply, String> {
        self.agent.step(&self.runs, &self.id, step).await
    }

    async fn mask(&self, r: usize) {
        let masked = self
            .step(AnalysisStep::Mask {
                round: self.rounds[r].clone(),
                inbox: self.inboxes[r].clone(),
                computation: Computation::Totals,
            })
            .await;
        assert!(
            matches!(masked, Ok(AnalysisReply::Masked { .. })),
            "{masked:?}"
        );
    }

    /// The agent's answer to a split of round `r` into `survivors` and `dropped`.
    async fn confirm(&self, r: usize, survivors: &[u32], dropped: &[u32]) -> Result<(), String> {
        let request = UnmaskRequest {
            round: self.rounds[r].clone(),
            survivors: survivors.iter().map(|&i| AggIndex(i)).collect(),
            dropped: dropped.iter().map(|&i| AggIndex(i)).collect(),
        };
        self.step(AnalysisStep::Confirm { request })
            .await
            .map(|reply| assert!(matches!(reply, AnalysisReply::Confirmed { .. })))
    }
}

fn setup(node: &support::Node) -> (AgentConfig, Vec<SigningKeyPair>) {
    let keys: Vec<SigningKeyPair> = PEERS.iter().map(|_| SigningKeyPair::generate()).collect();
    let peers: Vec<(&str, &SigningKeyPair)> = PEERS.iter().copied().zip(&keys).collect();
    (
        agent_config(node, SigningKeyPair::generate(), &peers, &HUB),
        keys,
    )
}

/// (d) A genuine dropout is confirmed and binds the cohort to the survivors;
/// a hub that then lies — bringing the dropped site back within the run, or
/// asking for the cohort over the full set in a new run — is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn red_team_a_dropout_binds_the_cohort_to_the_survivors() {
    let (trustee, _cohort, node, _) = ingested_site_1(1, 400, 51).await;
    let (config, keys) = setup(&node);
    let agent = Agent::new(&trustee, &node, config);
    let refused = Err(REFUSAL_TEXT.to_string());

    let run = Run::start(&agent, &keys, "female").await;
    run.mask(0).await;
    // Malformed splits first: site-1 itself dropped, a site named twice, too
    // few survivors for the threshold (3 of 4). None is signed, none binds.
    assert_eq!(run.confirm(0, &[1, 2, 3], &[0]).await, refused);
    assert_eq!(run.confirm(0, &[0, 1, 2], &[2, 3]).await, refused);
    assert_eq!(run.confirm(0, &[0, 1], &[2, 3]).await, refused);
    // site-4 did not mask: survivors 1-3 (threshold met), signed.
    assert_eq!(run.confirm(0, &[0, 1, 2], &[3]).await, Ok(()));
    // Within the run, site-4 cannot come back in a later round (the fit would
    // mix site sets), and nobody else can be dropped instead.
    run.mask(1).await;
    assert_eq!(run.confirm(1, &[0, 1, 2, 3], &[]).await, refused);
    assert_eq!(run.confirm(1, &[0, 1, 3], &[2]).await, refused);
    assert_eq!(run.confirm(1, &[0, 1, 2], &[3]).await, Ok(()));

    // A new run of the same cohort over all four sites: the with-site-4
    // figure is refused, whatever the run or project id.
    let full = Run::start(&agent, &keys, "female").await;
    full.mask(0).await;
    assert_eq!(full.confirm(0, &[0, 1, 2, 3], &[]).await, refused);
    // The survivors' set again is allowed (it reproduces the same sums).
    let again = Run::start(&agent, &keys, "female").await;
    again.mask(0).await;
    assert_eq!(again.confirm(0, &[0, 1, 2], &[3]).await, Ok(()));
}

/// (d) The other order: a cohort computed over all four sites cannot later be
/// computed with a site "dropped", within the run (after the first split) or
/// in a new run; only the full set is confirmed again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn red_team_a_claimed_dropout_after_the_full_set_is_refused() {
    let (trustee, _cohort, node, _) = ingested_site_1(1, 400, 52).await;
    let (config, keys) = setup(&node);
    let agent = Agent::new(&trustee, &node, config);
    let refused = Err(REFUSAL_TEXT.to_string());

    let run = Run::start(&agent, &keys, "male").await;
    run.mask(0).await;
    assert_eq!(run.confirm(0, &[0, 1, 2, 3], &[]).await, Ok(()));
    // A second, different split for the same round: refused.
    assert_eq!(run.confirm(0, &[0, 1, 2], &[3]).await, refused);
    // Round 1 "without site-4": refused (site-4's data are in round 0).
    run.mask(1).await;
    assert_eq!(run.confirm(1, &[0, 1, 2], &[3]).await, refused);

    let without = Run::start(&agent, &keys, "male").await;
    without.mask(0).await;
    assert_eq!(without.confirm(0, &[0, 1, 2], &[3]).await, refused);
    // One split per round: having been asked for that one, the site signs no
    // other for the round, not even the full set.
    assert_eq!(without.confirm(0, &[0, 1, 2, 3], &[]).await, refused);
    // A new run over the full set again is confirmed (the same sums).
    let full = Run::start(&agent, &keys, "male").await;
    full.mask(0).await;
    assert_eq!(full.confirm(0, &[0, 1, 2, 3], &[]).await, Ok(()));
}
