#!/usr/bin/env bash
# The main job of Revisit on a simulated prefecture, stage by stage, with each stage's time.
# Every stage is a plain `revisit` command that you can run yourself; `make demo` runs this.
#
#   scripts/demo.sh [HOME] [HOUSEHOLDS]     (defaults: ./revisit-data, 20000)
set -euo pipefail
cd "$(dirname "$0")/.."

HOME_DIR=${1:-revisit-data}
HOUSEHOLDS=${2:-20000}
REVISIT=.venv/bin/revisit
PY=.venv/bin/python
export REVISIT_HOME="$HOME_DIR"
# Demo-only key for pseudonymising households known only by an ID number. A deployment
# sets its own secret; never reuse this one.
export REVISIT_ID_SECRET=${REVISIT_ID_SECRET:-demo-id-secret-not-for-production-0123456789}
# Demo-only key with which `revisit promote` signs the champion and `revisit serve` checks it
# (at least 32 bytes). A deployment sets its own secret; never reuse this one.
export REVISIT_SIGNING_KEY=${REVISIT_SIGNING_KEY:-demo-signing-key-not-for-production-0123456789}
export PYTHONWARNINGS=ignore

declare -a STAGES=()
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
stage() { # stage NAME COMMAND...
  local name=$1; shift
  printf '\n\033[1m== %s ==\033[0m\n' "$name"
  local t0=$EPOCHREALTIME
  "$@"
  local dt; dt=$(elapsed "$t0")
  STAGES+=("$(printf '%-34s %7.1f s' "$name" "$dt")")
  printf '\033[2m(%s: %.1f s)\033[0m\n' "$name" "$dt"
}

T0=$EPOCHREALTIME
EXPORTS="$HOME_DIR/exports"
stage "1. simulate $HOUSEHOLDS households, 2 years" \
  "$REVISIT" simulate --households "$HOUSEHOLDS" --seed 0 --out "$EXPORTS"
stage "2. ingest the field exports" "$REVISIT" ingest "$EXPORTS"
stage "3. features as of today" "$REVISIT" features --out "$HOME_DIR/features/snapshot.parquet"
stage "4. train, evaluate, register" \
  "$REVISIT" train --ground-truth "$EXPORTS/ground_truth"
# The gates may refuse (exit 3, with the figures): the lift over the strongest officer rule must
# have a lower bound above 1. The demo then records a reviewer's override, reason included, so that
# the stages after it have a champion to rank with; a deployment would leave the champion alone.
promote_or_override() {
  "$REVISIT" promote && return 0
  local rc=$?
  [ "$rc" -eq 3 ] || return "$rc"
  echo "(demo: overriding the refusal above so that the demo can rank; see the figures)"
  "$REVISIT" promote --force \
    --reason "make demo: the gates refused; overridden only so the demo can rank"
}
stage "5. promote the challenger" promote_or_override

# The township with the most households in today's snapshot, as its path.
# Jurisdictions are paths (county/township): township names repeat across counties.
TOWNSHIP=$("$PY" -c "import pandas as pd, sys; f = pd.read_parquet(sys.argv[1], columns=['county', 'township']); print((f['county'] + '/' + f['township']).value_counts().index[0])" "$HOME_DIR/features/snapshot.parquet")
stage "6. top 20 of $TOWNSHIP" "$REVISIT" rank --township "$TOWNSHIP" --limit 20

OFFICER=$("$REVISIT" token issue --role officer --township "$TOWNSHIP" --name "demo officer of $TOWNSHIP" 2>/dev/null)
ANALYST=$("$REVISIT" token issue --role analyst --name "demo analyst" 2>/dev/null)
COUNTY="${TOWNSHIP%%/*}"  # TOWNSHIP is a path: county/township
CHIEF=$("$REVISIT" token issue --role supervisor --county "$COUNTY" --name "demo county command of $COUNTY" 2>/dev/null)
stage "7. publish this week's revisit tasks" "$REVISIT" publish
"$REVISIT" tasks notice --county "$COUNTY" --out "$HOME_DIR/notice_$COUNTY.xlsx" 2>/dev/null || true

REPORTS="$HOME_DIR/reports"
stage "8. weekly bulletin (html, xlsx)" bash -c '
  "$1" report weekly --format html --out "$2/weekly.html" 2>/dev/null >/dev/null &&
  "$1" report weekly --format xlsx --out "$2/weekly.xlsx" 2>/dev/null' _ "$REVISIT" "$REPORTS"
printf '  written: %s, %s\n' "$REPORTS/weekly.html" "$REPORTS/weekly.xlsx"
stage "9. officers to review" "$REVISIT" officers review --limit 15
"$REVISIT" officers review --format csv --out "$REPORTS/officers.csv" 2>/dev/null
"$PY" - "$REPORTS/officers.csv" "$EXPORTS/ground_truth/officers.parquet" <<'PYEOF'
import sys, pandas as pd
review = pd.read_csv(sys.argv[1], dtype={"officer_id": str})
truth = pd.read_parquet(sys.argv[2]).set_index("officer_id")["kind"]
listed = review[review["review"]]
bad = listed["officer_id"].map(truth).isin(["fabricating", "perfunctory"])
total = int(truth.isin(["fabricating", "perfunctory"]).sum())
print(f"review list: {len(listed)} officers, {int(bad.sum())} of them truly fabricating or "
      f"perfunctory (simulator's ground truth; {total} such officers in all)")
PYEOF

TOTAL=$(elapsed "$T0")

printf '\n\033[1m== stage times ==\033[0m\n'
printf '%s\n' "${STAGES[@]}"
printf '%-34s %7.1f s\n' "total" "$TOTAL"

cat <<MSG

Next steps
  MLflow UI (runs, plots, model card, the champion alias):
      make mlflow-ui HOME_DIR=$HOME_DIR        then open http://127.0.0.1:5000/#/experiments?workflowType=machine_learning
  The API with today's snapshot and the champion:
      REVISIT_HOME=$HOME_DIR REVISIT_SIGNING_KEY=$REVISIT_SIGNING_KEY .venv/bin/revisit serve --port 8000
  Tokens created for you (shown once; keep them):
      officer of $TOWNSHIP:  $OFFICER
      analyst:               $ANALYST
  Then, for example:
      curl -G -H "Authorization: Bearer $OFFICER" http://127.0.0.1:8000/v1/priority-list \\
           --data-urlencode "township=$TOWNSHIP" -d limit=20
      curl -G -H "Authorization: Bearer $OFFICER" -o list.xlsx http://127.0.0.1:8000/v1/priority-list \\
           --data-urlencode "township=$TOWNSHIP" -d limit=50 -d format=xlsx
      curl -H "Authorization: Bearer $ANALYST" http://127.0.0.1:8000/v1/model

This week's revisit tasks are published ($REVISIT tasks list --township "$TOWNSHIP").
  Officers' pages (Chinese; English on the switch; works on a phone):
      open http://127.0.0.1:8000/ui/   and sign in with the officer token above, or as
      county command of $COUNTY (督办 page):  $CHIEF
  Tracked notice of $COUNTY (a sheet per township):  $HOME_DIR/notice_$COUNTY.xlsx
MSG
