# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Learned points: the model as a points table
#
# Your marketing automation tool may not call a model, but it can hold a points table. This
# notebook translates the learned model into one, in **the same format as your hand-weighted
# rules file**: points per action (halving after a number of days, capped so repeats stop
# counting), points per fit attribute value (minus points where the model sees non-intent)
# and the MQL / SQL thresholds.
#
# How: on the leads *before* the test period, we fit an additive table to the model's own
# scores (no outcomes are used, only what the model says), round it to whole points, and set
# the thresholds so the tiers hold as many leads as the model's tiers do. Then we measure it
# on the test period, next to the model and your current rules. By default the table is on
# the same scale as your current points, so its thresholds read like yours.
#
# The command `leadscore rules suggest --model ... --data ... --out rules.yaml` does the same
# without a notebook. Set `LEADSCORE_NB_MODEL` and `LEADSCORE_NB_DATA` to use your own model
# (see notebook 01); without them a synthetic demo is used.

# %%
# %matplotlib inline
import pandas as pd
from IPython.display import Markdown, display

from features.points import PointsRules
from training import plots
from training.analysis import learned_vs_points as analysis
from training.analysis import plots as analysis_plots
from training.analysis import scorecard
from training.analysis.notebook_inputs import NotebookSettings, notebook_inputs
from training.baseline import points_on_rows

# %% tags=["parameters"]
settings = NotebookSettings()  # reads the LEADSCORE_NB_* environment variables

# %%
inputs = notebook_inputs(settings)
print(inputs.source)
suggested = scorecard.suggest_rules(inputs.contract, inputs.model, inputs.rules)
print(suggested.rules.description)

# %% [markdown]
# ## 1. The suggested table
#
# Actions: old and new points per event, the days after which they halve, and the cap on
# the rule's total. An empty cell means the table has no such rule.

# %%
display(scorecard.actions_side_by_side(inputs.rules, suggested.rules))

# %% [markdown]
# Fit: points per attribute value, old and new (values without a rule score 0).

# %%
display(scorecard.fit_side_by_side(inputs.rules, suggested.rules))
thresholds = pd.DataFrame(
    {
        "old": inputs.rules.thresholds.model_dump(),
        "new": suggested.rules.thresholds.model_dump(),
    }
)
display(thresholds.rename_axis("tier starts at (points)"))

# %% [markdown]
# ## 2. How much ranking quality the simple table keeps
#
# ROC AUC: the chance that a random lead that became a deal is ranked above a random one that
# did not (0.5 = coin toss). Deals found: share of all deals among the top-scored leads, at
# the volume of the model's SQL tier.

# %%
quality = pd.DataFrame([row.model_dump() for row in suggested.quality]).set_index("method")
display(quality)
print(
    f"Correlation of the table's points with the model's scores on the test period: "
    f"{suggested.fidelity:.2f}"
)

# %%
comparison = analysis.learned_vs_points(inputs.contract, inputs.model, inputs.rules)
learned = points_on_rows(
    suggested.rules, inputs.contract.leads, inputs.contract.journeys, comparison.frame
).total
scores = comparison.scores() | {scorecard.LEARNED_POINTS: learned}
y = comparison.y
figures = {"roc": plots.roc_figure(y, scores), "gain": plots.gain_figure(y, scores)}
display(figures["roc"], figures["gain"])

# %% [markdown]
# At the same sales effort:

# %%
volumes = analysis.equal_volume_table(y, scores, analysis.default_volumes(comparison))
display(analysis.plain_summary(volumes, int(y.sum())))
figures["deals_at_equal_volume"] = analysis_plots.equal_volume_figure(volumes)
figures["deals_at_equal_volume"]

# %% [markdown]
# ## 3. The rules file
#
# Review it, then load it into your marketing automation tool (or into `leadscore` with
# `PointsRules.from_yaml`). It is saved beside the figures.

# %%
rules_file = inputs.figures_dir / "learned_rules.yaml"
rules_file.parent.mkdir(parents=True, exist_ok=True)
rules_file.write_text(suggested.to_yaml(model_name=settings.model or "the demo model"))
assert PointsRules.from_yaml(rules_file) == suggested.rules  # the file says what was measured
display(Markdown(f"```yaml\n{rules_file.read_text()}```"))

# %%
for path in plots.save_figures(
    {f"03_{name}": figure for name, figure in figures.items()}, inputs.figures_dir
):
    print(path)
