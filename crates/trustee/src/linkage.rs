//! Record linkage in the trust centre (issue 5), on `oncofed-linkage`:
//!
//! | module | role |
//! |---|---|
//! | `blocks` | the blocking index: stored comparison records, block keys, splitting of large blocks |
//! | `probabilistic` | candidate scoring in the pseudonymise path |
//! | `review` | the clerical-review queue and person merges |
//! | `veto` | what forbids an automatic link: same site, sex, birth date (issue 9) |
//! | `pprl` | privacy-preserving linkage of CLK encodings per project |
//! | `api` | wire types of `/v1/admin/review`, `/v1/pprl/...`, `/v1/admin/pprl/...` (in `oncofed-trustee-api`) |
//! | `client` | HTTP client for those endpoints (CLI, tests; in `oncofed-trustee-api`) |
//!
//! The exact-match rules of `crate::db` still come first; probabilistic linkage
//! decides only records that no exact key links.

pub(crate) use oncofed_trustee_api::linkage::api;
pub(crate) mod blocks;
#[cfg(test)]
mod decisions_on_files;
pub(crate) mod pprl;
pub(crate) mod probabilistic;
pub(crate) mod review;
pub(crate) mod veto;
