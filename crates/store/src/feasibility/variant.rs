//! The `variant` leaf: a call of the node's VCF ingest (`variant_call`).

use super::{Param, Query};
use crate::columns;
use oncofed_criteria::VariantCriterion;

impl Query {
    /// `p.psn IN (SELECT v.psn FROM variant_call v WHERE ...)`: one call that
    /// satisfies every given field (gene by symbol or HGNC id, the normalised
    /// protein change, a consequence term of the class, VAF bounds, origin,
    /// collection date). Undated calls never match a date bound; calls without a
    /// VAF never match a VAF bound.
    pub(super) fn variant(&mut self, v: &VariantCriterion) {
        self.sql
            .push_str("p.psn IN (SELECT v.psn FROM variant_call v WHERE ");
        self.truth(true);
        if let Some(g) = &v.gene {
            let column = if v.gene_is_hgnc_id() {
                "v.hgnc"
            } else {
                "v.gene"
            };
            self.eq(column, g);
        }
        if let Some(p) = v.protein_normalised() {
            self.eq("v.hgvs_p", &p);
        }
        if let Some(terms) = v.consequence_terms() {
            self.one_of("v.consequence", terms.iter().map(String::as_str));
        }
        if let Some(min) = v.vaf_min {
            self.sql.push_str(" AND v.vaf >= ");
            self.bind(Param::Real(min));
        }
        if let Some(max) = v.vaf_max {
            self.sql.push_str(" AND v.vaf <= ");
            self.bind(Param::Real(max));
        }
        if let Some(o) = v.origin {
            self.eq("v.origin", o.as_str());
        }
        if let Some(from) = v.from {
            self.sql.push_str(" AND v.collected >= ");
            self.bind(Param::Text(columns::date_text(from)));
        }
        if let Some(to) = v.to {
            self.sql.push_str(" AND v.collected <= ");
            self.bind(Param::Text(columns::date_text(to)));
        }
        self.sql.push(')');
    }
}
