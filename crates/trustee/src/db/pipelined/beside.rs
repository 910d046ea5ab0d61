//! The second connection of a [`super::PgConn`], for reads of what was
//! committed ([`super::PgTx::query_committed`]): a read there is not queued
//! behind the statements the transaction sent ahead on the first.

use super::{connect_on, dollars};
use crate::db::StoreError;
use crate::db::sql::Param;
use oncofed_migrate::postgres::Target;
use std::collections::HashMap;
use tokio_postgres::{Client, Row, Statement};

/// A second connection on the first one's runtime, with its own prepared
/// statements; opened when first needed.
#[derive(Default)]
pub(super) struct Beside {
    client: Option<Client>,
    statements: HashMap<String, Statement>,
}

impl Beside {
    /// Every row of `sql`, on this connection (opened on `runtime` first if
    /// it is not open), each statement prepared once.
    pub(super) fn query(
        &mut self,
        runtime: &tokio::runtime::Runtime,
        target: &Target,
        sql: &str,
        params: &[&dyn Param],
    ) -> Result<Vec<Row>, StoreError> {
        if self.client.as_ref().is_none_or(Client::is_closed) {
            self.statements.clear();
            self.client = Some(connect_on(runtime, target)?);
        }
        let client = self.client.as_ref().expect("connected above");
        let statement = match self.statements.get(sql) {
            Some(s) => s.clone(),
            None => {
                let s = runtime.block_on(client.prepare(&dollars(sql)))?;
                self.statements.insert(sql.to_owned(), s.clone());
                s
            }
        };
        let p: Vec<_> = params.iter().map(|p| p.pg()).collect();
        Ok(runtime.block_on(client.query(&statement, &p))?)
    }

    /// The client, taken to be dropped off the runtime's thread (the
    /// connection ran on a runtime that is going away).
    pub(super) fn take_client(&mut self) -> Option<Client> {
        self.statements.clear();
        self.client.take()
    }
}
