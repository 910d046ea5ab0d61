//! The `cytology` leaf: per-smear facts of the node's cell ingest (kind
//! `observation`, system `cytomorphology`, modifier the specimen).

use super::{Param, Query};
use oncofed_criteria::CytologyCriterion;
use oncofed_model::{CodeSystem, FactKind};

impl Query {
    /// A smear fact of the specimen, dated within the bounds: with blast bounds
    /// the `blast-percentage` fact within them; with a class, that class's count
    /// at least 1; with neither, the `nucleated-cells` fact every smear has. The
    /// blast and the class parts are separate sub-queries joined by AND.
    pub(super) fn cytology(&mut self, c: &CytologyCriterion) {
        let smear_fact = |q: &mut Self, code: &str| {
            q.eq("f.system", CodeSystem::Cytomorphology.as_str());
            q.eq("f.code", code);
            if let Some(s) = c.specimen {
                q.eq("f.modifier_system", CodeSystem::Cytomorphology.as_str());
                q.eq("f.modifier_code", s.code());
            }
            q.dates(c.from, c.to);
        };
        let blasts = c.blast_percent_min.is_some() || c.blast_percent_max.is_some();
        self.sql.push('(');
        if blasts || c.class.is_none() {
            self.exists(FactKind::Observation, |q| {
                if !blasts {
                    smear_fact(q, CytologyCriterion::NUCLEATED_CELLS);
                    return;
                }
                smear_fact(q, CytologyCriterion::BLAST_PERCENTAGE);
                q.sql.push_str(" AND f.value_num IS NOT NULL");
                if let Some(min) = c.blast_percent_min {
                    q.sql.push_str(" AND f.value_num >= ");
                    q.bind(Param::Real(f64::from(min)));
                }
                if let Some(max) = c.blast_percent_max {
                    q.sql.push_str(" AND f.value_num <= ");
                    q.bind(Param::Real(f64::from(max)));
                }
            });
        }
        if let Some(class) = c.class {
            if blasts {
                self.sql.push_str(" AND ");
            }
            self.exists(FactKind::Observation, |q| {
                smear_fact(q, class.code());
                q.sql.push_str(" AND f.value_num >= ");
                q.bind(Param::Real(1.0));
            });
        }
        self.sql.push(')');
    }
}
