//! The grid: buildouts as rows, capability versions (PostgreSQL, Python…) as columns, the
//! last build of each builder in its cell; `?category=` keeps one build category.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::Extension;
use oebb_config::Builder;
use serde::{Deserialize, Serialize};

use super::session::Session;
use super::view::{self, Layout};
use super::{render, store_failed, Web};
use crate::ids::BuildId;
use crate::results::Results;
use crate::store::{BuildRecord, StoreError};

/// One cell: a builder and its last build.
#[derive(Clone, Debug, Serialize)]
pub struct Cell {
    /// The column it is in.
    pub column: String,
    /// The builder.
    pub builder: String,
    /// `data-result`: the last build's result, `running`, or `none` without builds.
    pub result: &'static str,
    /// The last build.
    pub build: Option<i64>,
    /// When the last build failed: its first finding and how long ago it ended (hover).
    pub cause: Option<String>,
}

/// One row: a buildout.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// The buildout.
    pub buildout: String,
    /// Its build category.
    pub category: String,
    /// Its builders, one per column at most (`None` where it has no builder).
    pub cells: Vec<Option<Cell>>,
}

/// The whole grid.
#[derive(Clone, Debug, Serialize)]
pub struct Grid {
    /// Column headings: capability versions, e.g. `postgresql 16`.
    pub columns: Vec<String>,
    /// Rows in manifest order.
    pub rows: Vec<Row>,
    /// Every category, for the filter links.
    pub categories: Vec<String>,
}

/// The column of a builder: its `build-for` capability versions.
pub fn column_of(builder: &Builder) -> String {
    if builder.split.is_empty() {
        return "any".to_string();
    }
    builder
        .split
        .iter()
        .map(|s| match &s.version {
            Some(v) => format!("{} {v}", s.capability),
            None => format!("{} not-used", s.capability),
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

/// Builds the grid of the configured builders in `category` (all when `None`).
pub async fn grid(web: &Web, category: Option<&str>) -> Result<Grid, StoreError> {
    let config = web.config();
    let builders: Vec<&Builder> = config
        .matrix
        .builders
        .iter()
        .filter(|b| category.is_none_or(|c| b.category == c))
        .collect();
    let names: Vec<&str> = builders.iter().map(|b| b.name.as_str()).collect();
    let last: HashMap<String, BuildRecord> = web
        .store
        .last_builds(&names)
        .await?
        .into_iter()
        .map(|b| (b.builder.clone(), b))
        .collect();
    let mut columns: Vec<String> = Vec::new();
    let mut rows: Vec<Row> = Vec::new();
    let mut cells: Vec<(usize, usize, Cell)> = Vec::new();
    for b in &builders {
        let column = column_of(b);
        let col = match columns.iter().position(|c| *c == column) {
            Some(i) => i,
            None => {
                columns.push(column.clone());
                columns.len() - 1
            }
        };
        let row = match rows.iter().position(|r| r.buildout == b.buildout) {
            Some(i) => i,
            None => {
                rows.push(Row {
                    buildout: b.buildout.clone(),
                    category: b.category.clone(),
                    cells: Vec::new(),
                });
                rows.len() - 1
            }
        };
        let build = last.get(b.name.as_str());
        cells.push((
            row,
            col,
            Cell {
                column,
                builder: b.name.as_str().to_string(),
                result: build.map_or("none", view::build_result),
                build: build.map(|b| b.id.0),
                cause: None,
            },
        ));
    }
    let failed: Vec<BuildId> = last
        .values()
        .filter(|b| matches!(b.result, Some(Results::Failure | Results::Exception)))
        .map(|b| b.id)
        .collect();
    let firsts = web.store.first_findings(&failed).await?;
    let now = crate::store::now_millis();
    for (_, _, cell) in &mut cells {
        let finding = cell.build.and_then(|id| firsts.get(&BuildId(id)));
        let ended = last.get(&cell.builder).and_then(|b| b.finished_at);
        if let (Some(f), Some(ended)) = (finding, ended) {
            cell.cause = Some(format!(
                "{}: {} ({} ago)",
                f.step_name,
                f.message,
                super::build::age(now - ended)
            ));
        }
    }
    for row in &mut rows {
        row.cells = vec![None; columns.len()];
    }
    for (row, col, cell) in cells {
        rows[row].cells[col] = Some(cell);
    }
    let mut categories: Vec<String> = config
        .matrix
        .builders
        .iter()
        .map(|b| b.category.clone())
        .filter(|c| !c.is_empty())
        .collect();
    categories.sort();
    categories.dedup();
    Ok(Grid {
        columns,
        rows,
        categories,
    })
}

#[derive(Template)]
#[template(path = "grid.html")]
struct GridPage {
    layout: Layout,
    grid: Grid,
    category: Option<String>,
}

/// The grid's filter.
#[derive(Deserialize, Default)]
pub struct GridQuery {
    /// Only this build category.
    pub category: Option<String>,
}

/// `GET /`.
pub async fn page(
    State(web): State<Web>,
    Extension(session): Extension<Session>,
    Query(q): Query<GridQuery>,
) -> Response {
    let category = q.category.filter(|c| !c.is_empty());
    let layout = Layout::new(&web, &session, "/");
    match grid(&web, category.as_deref()).await {
        Ok(grid) => render(&GridPage {
            layout,
            grid,
            category,
        }),
        Err(e) => store_failed(layout, e),
    }
}
