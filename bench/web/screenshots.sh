#!/usr/bin/env bash
# Retakes docs/screenshots/grid.png and build-failure.png: the browser test that checks the grid
# and a failing build page saves its screenshots there when OEBB_WEB_SCREENSHOTS is set.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p docs/screenshots
OEBB_WEB_SCREENSHOTS="$PWD/docs/screenshots" cargo test -p oebb --test web_browser -- \
  --exact the_grid_shows_each_buildout_on_each_postgresql_version_filtered_by_category
ls -l docs/screenshots/grid.png docs/screenshots/build-failure.png
