//! Issue 11, attack 3 at the site: a hub that runs the same computation twice,
//! once with and once without a site, by replacing a run with a new `Prepare`
//! or re-keying it once its sessions are spent. The site keeps its run counters
//! in the store's replay ledger, so neither works, not even after a restart,
//! and the hub is told only the constant refusal text (also for a computation
//! that fails at the site, whose reason could depend on its rows).

mod support;

use oncofed_crypto::SigningKeyPair;
use oncofed_node::agent::{AgentConfig, AnalysisRuns};
use oncofed_protocol::QueryId;
use oncofed_protocol::analysis::{AnalysisReply, AnalysisStep, Computation};
use oncofed_secagg::{
    REFUSAL_TEXT, RoundId, SignedPublicShare, SiteId as AggIndex, SiteSession, keys_message,
};
use support::{Agent, Node, agent_config, ingested_site_1};

/// The hub's key, pinned by the test sites and signing their run plans.
static HUB: std::sync::LazyLock<SigningKeyPair> =
    std::sync::LazyLock::new(SigningKeyPair::generate);

fn prepare(run: &QueryId) -> AnalysisStep {
    support::prepare_describe(run, None, &HUB)
}

/// A site-1 agent config over `node`, its roster listing site-1 and two real
/// peers whose keys the test keeps.
fn config(node: &Node, key: SigningKeyPair, peers: &[(&str, &SigningKeyPair)]) -> AgentConfig {
    agent_config(node, key, peers, &HUB)
}

fn keys(run: &str) -> AnalysisStep {
    AnalysisStep::Keys {
        index: 0,
        threshold: 1,
        rounds: vec![RoundId::new(format!("{run}/0")).unwrap()],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn red_team_a_run_is_prepared_and_keyed_once_even_after_a_restart() {
    let (trustee, _cohort, node, _) = ingested_site_1(1, 400, 5).await;
    let agent = Agent::new(
        &trustee,
        &node,
        config(&node, SigningKeyPair::generate(), &[]),
    );
    let run = QueryId::random();
    let round_prefix = run.as_str().to_owned();
    let runs = AnalysisRuns::default();
    let step = |runs: &AnalysisRuns, s: AnalysisStep| agent.step(runs, &run, s);
    assert_eq!(
        step(&runs, prepare(&run)).await,
        Ok(AnalysisReply::Admitted),
        "the first Prepare is admitted"
    );
    assert!(matches!(
        step(&runs, keys(&round_prefix)).await,
        Ok(AnalysisReply::Ready { .. })
    ));
    // A computation that fails at the site (here: one that does not fit the
    // analysis) is refused with the same constant text, its reason only logged.
    let mask = AnalysisStep::Mask {
        round: RoundId::new(format!("{round_prefix}/0")).unwrap(),
        inbox: vec![],
        computation: Computation::GlmStep { beta: vec![1.0] },
    };
    assert_eq!(step(&runs, mask).await, Err(REFUSAL_TEXT.to_string()));
    // Keys again (as once the sessions are spent): refused, constant text.
    assert_eq!(
        step(&runs, keys(&round_prefix)).await,
        Err(REFUSAL_TEXT.to_string())
    );
    // A new Prepare for the run, to replace it: refused.
    assert_eq!(
        step(&runs, prepare(&run)).await,
        Err(REFUSAL_TEXT.to_string())
    );
    // Finish, then a site restart (nothing in memory), then Prepare again: the
    // durable ledger still refuses the run id.
    step(&runs, AnalysisStep::Finish).await.unwrap();
    let restarted = AnalysisRuns::default();
    assert_eq!(
        step(&restarted, prepare(&run)).await,
        Err(REFUSAL_TEXT.to_string())
    );
    assert_eq!(restarted.open_runs(), 0);
}

/// Attack 1 through the agent: the hub relays, next to the site's own signed
/// keys, peers it invented (signed by its own key under the real peers' names),
/// or only the site's own keys. The agent's roster refuses both with the
/// constant text; the real peers' signed keys are accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn red_team_the_agent_refuses_peers_not_signed_by_its_roster() {
    let (trustee, _cohort, node, _) = ingested_site_1(1, 400, 6).await;
    let (k2, k3) = (SigningKeyPair::generate(), SigningKeyPair::generate());
    let config = config(
        &node,
        SigningKeyPair::generate(),
        &[("site-2", &k2), ("site-3", &k3)],
    );
    let agent = Agent::new(&trustee, &node, config);
    let run = QueryId::random();
    let runs = AnalysisRuns::default();
    let step = |s: AnalysisStep| agent.step(&runs, &run, s);
    assert_eq!(step(prepare(&run)).await, Ok(AnalysisReply::Admitted));
    let Ok(AnalysisReply::Ready { shares }) = step(keys(run.as_str())).await else {
        panic!("keys refused");
    };
    let round = shares[0].share.round.clone();
    let peer = |i: u32, name: &str, signer: &SigningKeyPair| {
        let (_, share) = SiteSession::new(AggIndex(i), round.clone(), 2);
        let signature = signer.sign(&keys_message(run.as_str(), name, &share));
        SignedPublicShare {
            share,
            signer: name.into(),
            signature,
        }
    };
    let hub = SigningKeyPair::generate();
    let invented = vec![
        shares[0].clone(),
        peer(1, "site-2", &hub),
        peer(2, "site-3", &hub),
    ];
    for keys in [invented, vec![shares[0].clone()]] {
        assert_eq!(
            step(AnalysisStep::Share { keys: vec![keys] }).await,
            Err(REFUSAL_TEXT.to_string())
        );
    }
    let genuine = vec![
        shares[0].clone(),
        peer(1, "site-2", &k2),
        peer(2, "site-3", &k3),
    ];
    assert!(matches!(
        step(AnalysisStep::Share {
            keys: vec![genuine]
        })
        .await,
        Ok(AnalysisReply::Shares { .. })
    ));
}
