//! The trust centre's record-linkage API: wire types of the clerical review
//! (`/v1/admin/review`), of admissions past a withdrawn person's tombstone
//! (`/v1/admin/admissions`) and of privacy-preserving linkage (`/v1/pprl/...`,
//! `/v1/admin/pprl/...`), and a client for them. They live beside the other
//! wire types so that the CLI and sites reach the trust centre through one
//! crate that does not compile the service.

pub mod api;
pub mod client;
