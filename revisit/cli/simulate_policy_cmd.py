"""`revisit simulate-policy`: escalations averted by revisits chosen by a policy (simulated)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer

from revisit.cli._common import (
    HomeOption,
    WaitOption,
    configure_logging,
    fail,
    locked_home,
    settings_for,
)

DEFAULT_OUT = Path("policy-simulation")


def _fmt(value: Any, digits: int = 0) -> str:
    value = float(value)
    return "n/a" if value is None or not math.isfinite(value) else f"{value:,.{digits}f}"


def register(app: typer.Typer) -> None:
    """Add the command to the CLI app."""

    @app.command("simulate-policy")
    def simulate_policy(
        households: Annotated[int, typer.Option("--households", help="Households.")] = 2_000,
        weeks: Annotated[int, typer.Option("--weeks", help="Policy weeks W.")] = 52,
        capacity: Annotated[
            int, typer.Option("--capacity", help="Revisits per township per week K.")
        ] = 20,
        policy: Annotated[
            str,
            typer.Option(
                "--policy",
                help="Comma-separated policies, or 'all': none, random, rule:prior-escalations, "
                "rule:open-disputes, rule:combined, model, oracle ('none' always runs: it is the "
                "reference); also model:risk (risk ranking alone) and model:active.",
            ),
        ] = "all",
        seeds: Annotated[str, typer.Option("--seeds", help="Comma-separated seeds.")] = "0,1,2",
        out: Annotated[Path, typer.Option("--out", help="Output folder.")] = DEFAULT_OUT,
        burn_in_weeks: Annotated[
            int, typer.Option("--burn-in-weeks", help="Weeks of history before the policy.")
        ] = 52,
        effect: Annotated[
            str, typer.Option("--effect", help="'default' (see simulation.revisits) or 'zero'.")
        ] = "default",
        hazard_factor: Annotated[
            float | None,
            typer.Option("--hazard-factor", help="Escalation hazard multiplier after a revisit."),
        ] = None,
        protect_days: Annotated[
            int | None, typer.Option("--protect-days", help="Days the hazard stays lowered.")
        ] = None,
        mediation_boost: Annotated[
            float | None,
            typer.Option("--mediation-boost", help="Multiplier on mediation success."),
        ] = None,
        lottery_share: Annotated[
            float, typer.Option("--lottery-share", help="Share of slots given by lottery.")
        ] = 0.0,
        lottery_pool: Annotated[
            float, typer.Option("--lottery-pool", help="Lottery pool, as a multiple of its slots.")
        ] = 3.0,
        cooldown_weeks: Annotated[
            int,
            typer.Option("--cooldown-weeks", help="Weeks before a household is eligible again."),
        ] = 4,
        retrain_every: Annotated[
            int, typer.Option("--retrain-every", help="Model: retrain every M weeks (0: frozen).")
        ] = 13,
        train_weeks: Annotated[
            int, typer.Option("--train-weeks", help="Model: weeks of labelled data per training.")
        ] = 26,
        mlflow_run: Annotated[
            bool, typer.Option("--mlflow/--no-mlflow", help="Log one MLflow run.")
        ] = True,
        home: Path | None = HomeOption,
        wait: float | None = WaitOption,
    ) -> None:
        """Run the simulated prefecture forward with weekly revisits chosen by each policy and
        report escalations averted against no revisits (table, DIR/summary.csv, MLflow run)."""
        from dataclasses import replace

        from tqdm.auto import tqdm

        from simulation.errors import SimulationError
        from simulation.policy import report
        from simulation.policy.loop import ALL_POLICIES, POLICIES, PolicyConfig, run_policy
        from simulation.revisits import RevisitEffect

        configure_logging()
        names = (
            list(POLICIES) if policy.strip() == "all" else [p.strip() for p in policy.split(",")]
        )
        unknown = [p for p in names if p not in ALL_POLICIES]
        if unknown:
            fail(
                f"--policy must name policies from {list(ALL_POLICIES)!r}, got {unknown!r}",
                code=2,
            )
        names = ["none", *[p for p in names if p != "none"]]
        try:
            seed_list = [int(s) for s in seeds.split(",") if s.strip()]
        except ValueError:
            fail(f"--seeds must be integers separated by commas, got {seeds!r}", code=2)
        if not seed_list:
            fail(f"--seeds must name at least one seed, got {seeds!r}", code=2)
        if effect not in ("default", "zero"):
            fail(f"--effect must be 'default' or 'zero', got {effect!r}", code=2)
        eff = RevisitEffect.zero() if effect == "zero" else RevisitEffect()
        overrides: dict[str, Any] = {
            k: v
            for k, v in (
                ("hazard_factor", hazard_factor),
                ("protect_days", protect_days),
                ("mediation_boost", mediation_boost),
            )
            if v is not None
        }
        eff = replace(eff, **overrides)
        configs = [
            PolicyConfig(
                policy=p,
                households=households,
                weeks=weeks,
                capacity=capacity,
                seed=s,
                burn_in_weeks=burn_in_weeks,
                effect=eff,
                lottery_share=lottery_share,
                lottery_pool=lottery_pool,
                cooldown_weeks=cooldown_weeks,
                retrain_every=retrain_every,
                train_weeks=train_weeks,
            )
            for s in seed_list
            for p in names
        ]
        try:
            for c in configs:
                c.validate()
            out.mkdir(parents=True, exist_ok=True)
            results = []
            progress = out / "runs.csv"
            progress.write_text("policy,seed,escalations,revisits,seconds\n", encoding="utf-8")
            for c in tqdm(configs, desc="policy-seed runs", unit="run"):
                r = run_policy(c)
                results.append(r)
                with progress.open("a", encoding="utf-8") as fh:  # progress of a long run
                    fh.write(f"{c.policy},{c.seed},{r.escalations},{r.revisits},{r.seconds:.1f}\n")
        except SimulationError as err:
            fail(str(err), code=2)
        except OSError as err:
            fail(f"cannot write {str(out)!r}: {err}")

        summary = report.summary_frame(results)
        table = report.policy_table(summary)
        counties = report.county_table(results)
        goals = report.comparisons(summary)
        feedback = report.feedback_table(results)
        estimates = report.estimates_frame(results)
        summary.to_csv(out / "summary.csv", index=False)
        table.to_csv(out / "policies.csv", index=False)
        counties.to_csv(out / "counties.csv", index=False)
        if len(feedback):
            feedback.to_csv(out / "feedback_rounds.csv", index=False)
        if len(estimates):
            estimates.to_csv(out / "effect_estimates.csv", index=False)

        typer.echo(
            f"\n{households:,} households, {weeks} weeks, K={capacity}, seeds {seed_list}, "
            f"effect {effect} (hazard x{eff.hazard_factor} for {eff.protect_days} d, "
            f"mediation {'on' if eff.mediation else 'off'})"
        )
        typer.echo(
            f"{'policy':<24}{'escalations':>12}{'averted [95% CI]':>26}"
            f"{'per 1000 revisits':>26}{'officer-days':>14}{'found dispute':>15}{'s/run':>7}"
        )
        for row in table.itertuples():
            ci = f"{_fmt(row.averted)} [{_fmt(row.averted_low)}, {_fmt(row.averted_high)}]"
            pk = (
                f"{_fmt(row.per_1000_revisits, 1)} "
                f"[{_fmt(row.per_1000_low, 1)}, {_fmt(row.per_1000_high, 1)}]"
            )
            typer.echo(
                f"{row.policy:<24}{_fmt(row.escalations):>12}{ci:>26}{pk:>26}"
                f"{_fmt(row.officer_days):>14}{row.found_dispute_share:>14.1%} "
                f"{row.seconds_per_run:>6.0f}"
            )
        if "model_minus_rule" in goals:
            typer.echo(
                f"model - {goals['strongest_rule']}: {_fmt(goals['model_minus_rule'], 1)} averted "
                f"[{_fmt(goals['model_minus_rule_low'], 1)}, "
                f"{_fmt(goals['model_minus_rule_high'], 1)}]"
            )
        if "model_minus_risk" in goals:
            typer.echo(
                f"model - model:risk: {_fmt(goals['model_minus_risk'], 1)} averted "
                f"[{_fmt(goals['model_minus_risk_low'], 1)}, "
                f"{_fmt(goals['model_minus_risk_high'], 1)}]"
            )
        if "model_share_of_oracle" in goals:
            typer.echo(f"model / oracle averted: {goals['model_share_of_oracle']:.0%}")
        for row in estimates.itertuples():
            typer.echo(
                f"effect estimate ({row.policy}, {row.estimator}): {row.estimate:+.4f} "
                f"[{row.low:+.4f}, {row.high:+.4f}] escalations per household in "
                f"{row.outcome_days} d; "
                + (
                    f"planted (latent) {row.latent_difference:+.4f}"
                    if row.estimator == "lottery"
                    else f"latent arm difference {row.latent_difference:+.4f} (risk included: "
                    "without a lottery the effect is not identified)"
                )
            )
        wide = counties.pivot(index="county", columns="policy", values="averted")
        wide = wide[[p for p in names if p in wide.columns and p != "none"]]
        if wide.shape[1]:
            typer.echo("averted by county (mean over seeds; intervals in counties.csv):")
            typer.echo(wide.round(1).to_string())
        if len(feedback):
            typer.echo("feedback rounds (model):")
            typer.echo(feedback.to_string(index=False))
        typer.echo(f"wrote {out / 'summary.csv'} and the tables next to it")

        if mlflow_run:
            settings = settings_for(home)
            figures = report.plots(results, table, counties)
            metrics = {
                f"{row.policy}.{k}": float(getattr(row, k))
                for row in table.itertuples()
                for k in ("averted", "averted_low", "averted_high", "per_1000_revisits")
            }
            metrics.update({k: v for k, v in goals.items() if isinstance(v, float)})
            params = {
                "households": households,
                "weeks": weeks,
                "capacity": capacity,
                "policies": ",".join(names),
                "seeds": ",".join(map(str, seed_list)),
                "effect": effect,
                "hazard_factor": eff.hazard_factor,
                "protect_days": eff.protect_days,
                "mediation": eff.mediation,
                "mediation_boost": eff.mediation_boost,
                "lottery_share": lottery_share,
                "cooldown_weeks": cooldown_weeks,
                "retrain_every": retrain_every,
                "burn_in_weeks": burn_in_weeks,
            }
            # the simulation writes only to --out; the home is locked while the run is logged
            with locked_home(settings.home, wait):
                run_id = report.log_run(
                    settings.tracking_uri,
                    (settings.home.resolve() / "mlartifacts").as_uri(),
                    params,
                    metrics,
                    out,
                    figures,
                )
            typer.echo(f"MLflow run {run_id} (experiment policy-simulation)")
