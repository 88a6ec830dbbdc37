//! `oebb builds`: list recent builds with their results, from the master's store.

use std::path::PathBuf;

use clap::Args;
use oebb_master::Store;

use super::master::{load_config, runtime};

/// Arguments of `oebb builds`.
#[derive(Args)]
pub struct BuildsArgs {
    /// The master directory.
    dir: PathBuf,
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
    let builds = runtime()?.block_on(async {
        let store = Store::open(&config.settings.database, &config.dir).await?;
        let builds = store.builds(args.builder.as_deref(), args.limit).await;
        let requests: Vec<_> = builds.iter().flatten().map(|b| b.request_id).collect();
        let tested = store.changes_tested(&requests).await;
        store.close().await;
        Ok::<_, oebb_master::StoreError>((builds?, tested?))
    })?;
    let (builds, tested) = builds;
    if builds.is_empty() {
        println!("no builds yet");
        return Ok(0);
    }
    println!(
        "{:>6}  {:<30}  {:<16}  {:<9}  state",
        "build", "builder", "worker", "result"
    );
    for b in builds {
        let result = b.result.map_or("running", |r| r.name());
        println!(
            "{:>6}  {:<30}  {:<16}  {:<9}  {}",
            b.id, b.builder, b.worker, result, b.state_text
        );
        // The changes it tested, one line each: revision, author, first line of the comment.
        for c in tested.get(&b.request_id).into_iter().flatten() {
            let revision: String = c.revision.chars().take(12).collect();
            let author = c.author.as_deref().unwrap_or("");
            println!(
                "        change {} {revision} by {author}: {}",
                c.id,
                c.title()
            );
        }
    }
    Ok(0)
}
