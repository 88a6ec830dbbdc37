//! `oebb builds`: list recent builds with their results, from the master's store.

use std::path::PathBuf;

use clap::Args;
use oebb_master::{BuildId, Results, Store};

use super::progress::{printable, seconds};

use super::master::{load_config, runtime};

/// Arguments of `oebb builds`.
#[derive(Args)]
pub struct BuildsArgs {
    /// The master directory.
    dir: PathBuf,
    /// One build: its steps and its findings.
    build: Option<i64>,
    /// Only the builds of this builder.
    #[arg(long)]
    builder: Option<String>,
    /// How many builds, newest first.
    #[arg(long, default_value_t = 20)]
    limit: i64,
}

/// Runs the command.
pub fn run(args: BuildsArgs) -> anyhow::Result<u8> {
    let config = load_config(&args.dir)?;
    runtime()?.block_on(async {
        let store = Store::open(&config.settings.database, &config.dir).await?;
        let shown = match args.build {
            Some(id) => show_build(&store, BuildId(id)).await,
            None => list(&store, args.builder.as_deref(), args.limit).await,
        };
        store.close().await;
        shown
    })
}

async fn list(store: &Store, builder: Option<&str>, limit: i64) -> anyhow::Result<u8> {
    let builds = store.builds(builder, limit).await?;
    if builds.is_empty() {
        println!("no builds yet");
        return Ok(0);
    }
    let ids: Vec<BuildId> = builds.iter().map(|b| b.id).collect();
    let firsts = store.first_findings(&ids).await?;
    let requests: Vec<_> = builds.iter().map(|b| b.request_id).collect();
    let tested = store.changes_tested(&requests).await?;
    println!(
        "{:>6}  {:<30}  {:<16}  {:<9}  {:>10}  state",
        "build", "builder", "worker", "result", "duration"
    );
    for b in builds {
        let result = b.result.map_or("running", |r| r.name());
        let duration = b
            .finished_at
            .map_or_else(|| "-".to_string(), |f| seconds(f - b.started_at));
        println!(
            "{:>6}  {:<30}  {:<16}  {:<9}  {:>10}  {}",
            b.id.0,
            b.builder,
            b.worker,
            result,
            duration,
            printable(&b.state_text)
        );
        let failed = matches!(b.result, Some(Results::Failure | Results::Exception));
        if let (true, Some(f)) = (failed, firsts.get(&b.id)) {
            println!("{:>6}  ↳ {}: {}", "", f.step_name, printable(&f.message));
        }
        // The changes it tested, one line each: revision, author, first line of the comment.
        for c in tested.get(&b.request_id).into_iter().flatten() {
            let revision: String = c.revision.chars().take(12).collect();
            let author = printable(c.author.as_deref().unwrap_or(""));
            let title = printable(c.title());
            println!("{:>6}  change {} {revision} by {author}: {title}", "", c.id);
        }
    }
    Ok(0)
}

async fn show_build(store: &Store, id: BuildId) -> anyhow::Result<u8> {
    let Some(b) = store.build(id).await? else {
        anyhow::bail!("there is no build {id}; `oebb builds DIR` lists the recent ones");
    };
    let result = b.result.map_or("running", |r| r.name());
    println!("build {} of {} on {}: {result}", b.id, b.builder, b.worker);
    println!("  {}", printable(&b.state_text));
    let findings = store.findings(id).await?;
    if !findings.is_empty() {
        println!();
        for f in &findings {
            let place = if f.line > 0 {
                format!("{} line {}", f.step_name, f.line)
            } else {
                f.step_name.clone()
            };
            println!("cause: {}", printable(&f.message));
            println!("  in {place} ({}, {}); {}", f.rule, f.severity, f.novelty());
            for line in f.detail.lines().take(6).map(printable) {
                println!("    {line}");
            }
        }
    }
    let mut tested = store.changes_tested(&[b.request_id]).await?;
    for c in tested.remove(&b.request_id).unwrap_or_default() {
        let author = printable(c.author.as_deref().unwrap_or(""));
        let title = printable(c.title());
        println!("change {} {} by {author}: {title}", c.id, c.revision);
    }
    println!();
    for s in store.steps(id).await? {
        let result = s.result.map_or("running", |r| r.name());
        let duration = s
            .finished_at
            .map_or_else(|| "-".to_string(), |f| seconds(f - s.started_at));
        println!(
            "[{:>2}] {:<24} {:<9} {:>10}  {}",
            s.number,
            s.name,
            result,
            duration,
            printable(&s.state_text)
        );
    }
    Ok(0)
}
