//! A build's findings (table `build_findings`): the cause of each failed step and the
//! analyzer's findings, each with its fingerprint and whether the builder had met it before
//! (table `builder_fingerprints`, one row per builder and fingerprint).

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{Store, StoreError};
use crate::ids::BuildId;

/// Most findings kept for one build (the analyzer keeps a capped number per rule, a step at
/// most three causes; this bounds a build of many failing steps).
pub const MAX_FINDINGS_PER_BUILD: i64 = 200;
/// Longest message or detail text kept, in bytes.
const MAX_TEXT: usize = 4096;

/// A finding to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFinding {
    /// The step it was found in, by number.
    pub step_number: i64,
    /// That step's name.
    pub step_name: String,
    /// `stdio` (the step's output) or `file` (the analysed Odoo log).
    pub log: String,
    /// 1-based line in that log; 0 when about the whole step.
    pub line: u64,
    /// The rule that found it (`buildout-error`, `error-record`…).
    pub rule: String,
    /// `fail`, `warning`…
    pub severity: String,
    /// 0: names a cause; 1: a warning; 2: only a log's last lines, or restates a cause
    /// another finding names (a test's status word, a summary); 3: a note.
    pub weight: i64,
    /// One line saying what went wrong.
    pub message: String,
    /// The lines that explain it.
    pub detail: String,
    /// Same in another build for the same cause.
    pub fingerprint: String,
}

/// A stored finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FindingRecord {
    /// The build.
    pub build_id: BuildId,
    /// Its place among the build's findings, in the order found.
    pub seq: i64,
    /// The step it was found in, by number.
    pub step_number: i64,
    /// That step's name.
    pub step_name: String,
    /// `stdio` or `file`.
    pub log: String,
    /// 1-based line in that log; 0 when about the whole step.
    pub line: i64,
    /// The rule that found it.
    pub rule: String,
    /// `fail`, `warning`…
    pub severity: String,
    /// 0: names a cause; 1: a warning; 2: only a log's last lines, or restates a cause
    /// another finding names (a test's status word, a summary); 3: a note.
    pub weight: i64,
    /// One line saying what went wrong.
    pub message: String,
    /// The lines that explain it.
    pub detail: String,
    /// Same in another build for the same cause.
    pub fingerprint: String,
    /// The builder's first build with this fingerprint.
    pub first_build: BuildId,
    /// How many of the builder's builds had it, from `first_build` to this one.
    pub seen_builds: i64,
}

impl FindingRecord {
    /// Whether this build is the first of its builder to have it.
    pub fn is_new(&self) -> bool {
        self.first_build == self.build_id
    }

    /// "new in this build", or "known: first seen in build #N, in M builds since".
    pub fn novelty(&self) -> String {
        if self.is_new() {
            "new in this build".to_string()
        } else {
            format!(
                "known: first seen in build #{}, in {} builds of this builder since",
                self.first_build, self.seen_builds
            )
        }
    }
}

/// A fingerprint a builder met in more than one build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecurringFinding {
    /// The fingerprint.
    pub fingerprint: String,
    /// The rule of its first finding.
    pub rule: String,
    /// The message of its first finding.
    pub message: String,
    /// The first build that had it.
    pub first_build: BuildId,
    /// The last build that had it.
    pub last_build: BuildId,
    /// How many builds had it.
    pub builds: i64,
}

const COLUMNS: &str = "build_id, seq, step_number, step_name, log, line_number, rule, severity, \
     weight, message, detail, fingerprint, first_build, seen_builds FROM build_findings";

fn record(row: &AnyRow) -> Result<FindingRecord, StoreError> {
    Ok(FindingRecord {
        build_id: BuildId(row.try_get("build_id")?),
        seq: row.try_get("seq")?,
        step_number: row.try_get("step_number")?,
        step_name: row.try_get("step_name")?,
        log: row.try_get("log")?,
        line: row.try_get("line_number")?,
        rule: row.try_get("rule")?,
        severity: row.try_get("severity")?,
        weight: row.try_get("weight")?,
        message: row.try_get("message")?,
        detail: row.try_get("detail")?,
        fingerprint: row.try_get("fingerprint")?,
        first_build: BuildId(row.try_get("first_build")?),
        seen_builds: row.try_get("seen_builds")?,
    })
}

fn bounded(text: &str) -> &str {
    if text.len() <= MAX_TEXT {
        return text;
    }
    let mut end = MAX_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The builder's first build with `fingerprint` and its count of builds, this one counted.
async fn remember_fingerprint(
    conn: &mut AnyConnection,
    build: BuildId,
    builder: &str,
    f: &NewFinding,
) -> Result<(i64, i64), StoreError> {
    let known = sqlx::query(
        "SELECT first_build, last_build, builds FROM builder_fingerprints \
         WHERE builder = $1 AND fingerprint = $2",
    )
    .bind(builder)
    .bind(&f.fingerprint)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = known else {
        sqlx::query(
            "INSERT INTO builder_fingerprints \
             (builder, fingerprint, rule, message, first_build, last_build, builds) \
             VALUES ($1, $2, $3, $4, $5, $5, 1)",
        )
        .bind(builder)
        .bind(&f.fingerprint)
        .bind(&f.rule)
        .bind(bounded(&f.message))
        .bind(build.0)
        .execute(&mut *conn)
        .await?;
        return Ok((build.0, 1));
    };
    let first: i64 = row.try_get("first_build")?;
    let last: i64 = row.try_get("last_build")?;
    let builds: i64 = row.try_get("builds")?;
    if last == build.0 {
        return Ok((first, builds));
    }
    sqlx::query(
        "UPDATE builder_fingerprints SET last_build = $1, builds = $2 \
         WHERE builder = $3 AND fingerprint = $4",
    )
    .bind(build.0)
    .bind(builds + 1)
    .bind(builder)
    .bind(&f.fingerprint)
    .execute(&mut *conn)
    .await?;
    Ok((first, builds + 1))
}

impl Store {
    /// Stores findings of a build after those it has, up to [`MAX_FINDINGS_PER_BUILD`];
    /// returns them as stored (with whether each is new to the builder).
    pub async fn add_findings(
        &self,
        build: BuildId,
        builder: &str,
        findings: &[NewFinding],
    ) -> Result<Vec<FindingRecord>, StoreError> {
        let mut tx = self.write_transaction().await?;
        let next: Option<i64> =
            sqlx::query("SELECT MAX(seq) AS seq FROM build_findings WHERE build_id = $1")
                .bind(build.0)
                .fetch_one(&mut *tx)
                .await?
                .try_get("seq")?;
        let mut stored = Vec::new();
        for (seq, f) in (next.map_or(0, |s| s + 1)..).zip(findings) {
            if seq >= MAX_FINDINGS_PER_BUILD {
                break;
            }
            let (first, seen) = remember_fingerprint(&mut tx, build, builder, f).await?;
            sqlx::query(
                "INSERT INTO build_findings (build_id, seq, builder, step_number, step_name, \
                 log, line_number, rule, severity, weight, message, detail, fingerprint, \
                 first_build, seen_builds) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
            )
            .bind(build.0)
            .bind(seq)
            .bind(builder)
            .bind(f.step_number)
            .bind(&f.step_name)
            .bind(&f.log)
            .bind(f.line.min(i64::MAX as u64) as i64)
            .bind(&f.rule)
            .bind(&f.severity)
            .bind(f.weight)
            .bind(bounded(&f.message))
            .bind(bounded(&f.detail))
            .bind(&f.fingerprint)
            .bind(first)
            .bind(seen)
            .execute(&mut *tx)
            .await?;
            stored.push(FindingRecord {
                build_id: build,
                seq,
                step_number: f.step_number,
                step_name: f.step_name.clone(),
                log: f.log.clone(),
                line: f.line.min(i64::MAX as u64) as i64,
                rule: f.rule.clone(),
                severity: f.severity.clone(),
                weight: f.weight,
                message: bounded(&f.message).to_string(),
                detail: bounded(&f.detail).to_string(),
                fingerprint: f.fingerprint.clone(),
                first_build: BuildId(first),
                seen_builds: seen,
            });
        }
        tx.commit().await?;
        Ok(stored)
    }

    /// A build's findings, the most telling first.
    pub async fn findings(&self, build: BuildId) -> Result<Vec<FindingRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let sql = format!("SELECT {COLUMNS} WHERE build_id = $1 ORDER BY weight, seq LIMIT $2");
        let rows = sqlx::query(&sql)
            .bind(build.0)
            .bind(MAX_FINDINGS_PER_BUILD)
            .fetch_all(&mut *conn)
            .await?;
        rows.iter().map(record).collect()
    }

    /// The first finding of each of these builds that has one (one index entry each).
    pub async fn first_findings(
        &self,
        builds: &[BuildId],
    ) -> Result<BTreeMap<BuildId, FindingRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let sql = format!("SELECT {COLUMNS} WHERE build_id = $1 ORDER BY weight, seq LIMIT 1");
        let mut out = BTreeMap::new();
        for build in builds {
            if let Some(row) = sqlx::query(&sql)
                .bind(build.0)
                .fetch_optional(&mut *conn)
                .await?
            {
                out.insert(*build, record(&row)?);
            }
        }
        Ok(out)
    }

    /// The fingerprints a builder met in more than one build, the most recent first.
    pub async fn recurring_findings(
        &self,
        builder: &str,
        limit: i64,
    ) -> Result<Vec<RecurringFinding>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let rows = sqlx::query(
            "SELECT fingerprint, rule, message, first_build, last_build, builds \
             FROM builder_fingerprints WHERE builder = $1 AND builds > 1 \
             ORDER BY last_build DESC LIMIT $2",
        )
        .bind(builder)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(RecurringFinding {
                    fingerprint: r.try_get("fingerprint")?,
                    rule: r.try_get("rule")?,
                    message: r.try_get("message")?,
                    first_build: BuildId(r.try_get("first_build")?),
                    last_build: BuildId(r.try_get("last_build")?),
                    builds: r.try_get("builds")?,
                })
            })
            .collect()
    }
}
