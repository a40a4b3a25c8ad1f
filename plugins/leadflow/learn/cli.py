"""`leadflow model train|show|activate`: a learned score, proposed by training, activated by a person."""

from __future__ import annotations

import getpass
import json

import click

from leadflow.warehouse.db import warehouse_url


def _parse_set(values: tuple[str, ...]) -> dict:
    """--set learn_holdout_start=2017-12-01 (values are YAML: numbers, lists and maps work)."""
    import yaml

    out = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.startswith(("learn_", "mql_")):
            raise click.BadParameter(f"{item!r}: expected learn_<setting>=<value> or mql_<setting>=<value>")
        out[key] = yaml.safe_load(value)
    return out


@click.group()
def model() -> None:
    """Learned scoring: train a model on your own conversions, read its card, activate it.

    Training builds a point-in-time training set in the warehouse (each lead at days after creation, features as
    they stood then, label = won within the window after), fits an explainable additive model and records it in
    ops.score_models as *proposed*. Nothing changes for leads until a person runs `leadflow model activate`.
    Settings: the learn_* and mql_* vars in dbt_project/dbt_project.yml.
    """


@model.command("train")
@click.option(
    "--algorithm",
    "algorithms",
    multiple=True,
    type=click.Choice(["scorecard", "ebm"]),
    help="Candidate(s) to fit; default both, the better holdout AUC wins.",
)
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE", help="Override a learn_*/mql_* setting.")
def train_cmd(algorithms: tuple[str, ...], settings: tuple[str, ...]) -> None:
    """Train on the warehouse's leads and outcomes and propose the model (prints its card)."""
    from leadflow.learn.train import LearnError, train
    from leadflow.transform.dbt import DbtFailed

    try:
        card = train(
            warehouse_url(),
            overrides=_parse_set(settings),
            algorithms=algorithms or ("scorecard", "ebm"),
            echo=click.echo,
        )
    except (LearnError, DbtFailed) as exc:
        raise click.ClickException(str(exc)) from None
    _print_card(card.row)
    click.echo(f"\nnext: leadflow model activate {card.model_id}" if card.recommended else "")


@model.command("show")
@click.argument("model_id", required=False)
@click.option("--json", "as_json", is_flag=True, help="The whole card as JSON.")
def show_cmd(model_id: str | None, as_json: bool) -> None:
    """List the models (newest first), or show one model's card and its largest points."""
    from leadflow.learn.train import cards, top_points

    rows = cards(warehouse_url(), model_id)
    if not rows:
        raise click.ClickException(
            f"no model {model_id!r}" if model_id else "no model trained yet: run `leadflow model train`"
        )
    if as_json:
        click.echo(json.dumps(rows if not model_id else rows[0], default=str, indent=2))
        return
    if not model_id:
        for r in rows:
            click.echo(
                f"{r['model_id']}  {r['status']:<8}  {r['algorithm']:<9}  AUC {r['holdout_auc']}  "
                f"(vs {r['baseline_name']} {r['baseline_holdout_auc']})  {r['message']}"
            )
        return
    _print_card(rows[0])
    click.echo("largest points (log-odds):")
    for feature, label, points in top_points(warehouse_url(), model_id):
        click.echo(f"  {points:+7.3f}  {feature} = {label}")


@model.command("activate")
@click.argument("model_id")
@click.option("--force", is_flag=True, help="Activate a model whose card says it is not recommended.")
@click.option("--by", default=None, help="Who activates it (default: the current user).")
def activate_cmd(model_id: str, force: bool, by: str | None) -> None:
    """Make MODEL_ID the active model (the previous one is retired); the next dbt build applies it."""
    from leadflow.learn.train import LearnError, activate

    try:
        click.echo(activate(warehouse_url(), model_id, by or getpass.getuser(), force=force))
    except LearnError as exc:
        raise click.ClickException(str(exc)) from None


def _print_card(row: dict) -> None:
    def get(key):
        value = row.get(key)
        return getattr(value, "obj", value)

    click.echo(f"model {row['model_id']} ({row['algorithm']}), {row['status']}, trained {row['trained_at']}")
    click.echo(f"  {row['message']}")
    click.echo(
        f"  training rows {row['training_rows']:,} ({row['training_positives']:,} converted); holdout "
        f"{row['holdout_rows']:,} ({row['holdout_positives']:,} converted) from {row['holdout_start']}"
    )
    click.echo(f"  cutoffs: {row['cutoff_scheme']}; label: won within {row['label_window_days']} days")
    click.echo(
        f"  holdout AUC {row['holdout_auc']} vs {row['baseline_name']} {row['baseline_holdout_auc']}; "
        f"top-decile lift {row['top_decile_lift']}; calibration error {row['calibration_error']}"
    )
    click.echo(
        "  candidates: " + ", ".join(f"{k} AUC {v['holdout_auc']}" for k, v in (get("candidates") or {}).items())
    )
    deciles = get("lift_by_decile") or []
    click.echo("  lift by decile: " + " ".join(str(d["lift"]) for d in deciles))
    click.echo(f"  MQL threshold (if mql_score: learned): {row['threshold_probability']} — {row['threshold_rule']}")
    click.echo(f"  features: {len(get('features') or [])}")
