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
# # Learned score vs hand-weighted points
#
# Your marketing automation tool scores leads with points you set by hand: +40 for a demo
# request, +15 for a VP title, minus points for students and job seekers. The learned model
# scores the same leads from what preceded real deals in your own history.
#
# This notebook puts both on **the same leads, at the same moments, after the period the
# model learned from** (the "test slice": nothing was fitted or tuned on it), and asks the
# question that matters to sales: *if sales can call N leads, which method finds more deals?*
#
# **Your own model.** Set two environment variables before starting Jupyter:
#
# ```bash
# export LEADSCORE_NB_MODEL=models:/lead-conversion@champion  # or a models/ directory
# export LEADSCORE_NB_DATA=data/quickstart/synth   # the data it was trained on, or newer
# ```
#
# Relative paths are read from the project folder (where you ran `leadscore quickstart`).
# Without these variables the notebook builds a small synthetic demo (fake but realistic
# leads) and trains a model on it, so it runs anywhere. Figures are saved as PNG files in
# `LEADSCORE_NB_FIGURES` (default: beside the demo's training report, or
# `data/notebooks/figures`).

# %%
# %matplotlib inline
import pandas as pd
from IPython.display import display

from training import evaluate, plots
from training.analysis import learned_vs_points as analysis
from training.analysis import plots as analysis_plots
from training.analysis.notebook_inputs import NotebookSettings, notebook_inputs

pd.set_option("display.max_colwidth", 200)

# %% tags=["parameters"]
settings = NotebookSettings()  # reads the LEADSCORE_NB_* environment variables

# %%
inputs = notebook_inputs(settings)
print(inputs.source)
comparison = analysis.learned_vs_points(inputs.contract, inputs.model, inputs.rules)
y, scores = comparison.y, comparison.scores()
figures = {}
frame = comparison.frame
print(
    f"{len(frame):,} scoring moments of {frame['lead_id'].nunique():,} leads, "
    f"from {frame['as_of'].min():%Y-%m-%d} to {frame['as_of'].max():%Y-%m-%d}; "
    f"{int(y.sum()):,} of them led to a deal within "
    f"{inputs.model.spec.metadata.horizon_days:g} days ({y.mean():.1%})."
)

# %% [markdown]
# Each row is one lead at one moment (a few days or weeks after it arrived), scored both
# ways, with the outcome we now know: did it become a deal?

# %%
columns = ["lead_id", "as_of", "label", "probability", "tier", "points", "points_tier", "reasons"]
display(frame[columns].head())

# %% [markdown]
# ## 1. Who ranks converters higher?
#
# Both methods sort leads from "call first" to "call last". The **ROC curve** shows how many
# of the eventual deals (up) a method has flagged for every non-deal it also flags (right);
# the area under it (AUC) is the chance that a random deal is ranked above a random
# non-deal: 0.5 is a coin toss, 1.0 is perfect.
#
# The **precision-recall** chart asks the sales question directly: when you flag enough leads
# to catch x% of the deals (recall), what share of the flagged leads actually buy (precision)?

# %%
figures["roc"] = plots.roc_figure(y, scores)
figures["roc"]

# %%
figures["precision_recall"] = plots.pr_figure(y, scores)
figures["precision_recall"]

# %% [markdown]
# ## 2. Gain and lift: the best leads first
#
# Call leads best score first. The **gain chart** shows the share of all deals you have found
# after calling the top x% of leads; the diagonal is calling at random. The **lift chart**
# shows how many times better than average the leads called so far convert.

# %%
figures["gain"] = plots.gain_figure(y, scores)
figures["gain"]

# %%
figures["lift"] = plots.lift_figure(y, scores)
figures["lift"]

# %% [markdown]
# ## 3. Does "30%" mean 30%?
#
# The learned model gives a probability, calibrated on leads it had not trained on. The
# reliability diagram groups leads by predicted probability and compares it with how many
# actually bought: on the diagonal, "30%" means about 30 of 100 such leads convert. Points
# have no such meaning ("what is a good score?"), so only the model appears here.

# %%
reliability = evaluate.reliability_table(frame["probability"], y)
ece = evaluate.expected_calibration_error(frame["probability"], y)
figures["reliability"] = plots.reliability_figure(reliability, ece)
figures["reliability"]

# %% [markdown]
# ## 4. Conversion rate by score bucket
#
# Split the leads into ten equal buckets by each method's score. A good score makes the top
# bucket convert much better than the rest and the bottom buckets almost never.

# %%
buckets = analysis.bucket_table(y, scores)
display(buckets.style.format("{:.2%}", subset=[c for c in buckets if c.startswith("conversion")]))
figures["conversion_by_bucket"] = plots.bucket_figure(
    {method: buckets[f"conversion rate: {method}"].to_numpy() for method in scores}
)
figures["conversion_by_bucket"]

# %% [markdown]
# ## 5. Tier against tier
#
# Each method puts a lead in a tier: **sql** (route to sales now), **mql** (follow up) or
# **nurture**. The points tiers come from the thresholds in your rules file; the learned
# tiers from business rules chosen at training time (for example "at most 5% of a week's
# leads are SQL"). Each cell shows how many leads both methods put there and how many of
# them converted. Off the diagonal, the two disagree.

# %%
cross = analysis.tier_cross_table(comparison)
display(analysis.cross_table_grid(cross))
figures["tier_vs_tier"] = analysis_plots.cross_table_figure(cross)
figures["tier_vs_tier"]

# %% [markdown]
# ## 6. Fit × engagement: the grade sales sees
#
# Besides the score, the model answers sales' two questions apart, as MadKudu, HubSpot and
# Pardot do: **fit** (is this the kind of company and person we sell to? read from the
# lead's attributes alone) and **engagement** (are they active now? read from the journey
# alone), each 0-100 among recent leads. The **grade** puts them together: the fit letter
# (A: 75-100 ... D: 0-24) and the engagement digit (1: 75-100 ... 4: 0-24). The service,
# `leadscore score` and the MLflow model give the same three values.
#
# Each cell shows how many of the leads above got that grade and how many of them converted.
# A1 should convert best and D4 worst; A4 (the right people, quiet for now) is for nurture
# campaigns, D1 (busy, but not who you sell to) for a second look before sales calls.

# %%
graded = comparison.model.predict_features(comparison.features)
if graded.grade is None:
    print("This model was packaged before fit and engagement existed: retrain it to see them.")
else:
    cells = pd.DataFrame(
        {
            "fit": [grade[0] for grade in graded.grade],
            "engagement": [grade[1:] or "-" for grade in graded.grade],
            "converted": y,
        }
    ).groupby(["fit", "engagement"])["converted"]
    grid = cells.agg(["size", "mean"]).apply(
        lambda cell: f"{int(cell['size']):,} ({cell['mean']:.1%})", axis=1
    )
    display(grid.unstack(fill_value="0"))

# %% [markdown]
# ## 7. The leads where the two disagree most
#
# Ranks are percentiles among these leads (100 = best). The first rows are leads the model
# ranks far higher than the points, the last rows the other way round. Each comes with the
# model's reasons, the same the scoring service gives sales (`+` raised the score, `-`
# lowered it; ×2 = twice the odds of buying), and the points breakdown (which rules gave
# the points).

# %%
display(analysis.disagreements(comparison, n=5))

# %% [markdown]
# ## 8. Summary: same sales effort, how many deals?
#
# Give sales the same number of leads from each method (the size of each method's SQL tier,
# of SQL + MQL, and fixed shares) and count the deals among them.

# %%
volumes = analysis.equal_volume_table(y, scores, analysis.default_volumes(comparison))
display(analysis.plain_summary(volumes, int(y.sum())))
figures["deals_at_equal_volume"] = analysis_plots.equal_volume_figure(volumes)
figures["deals_at_equal_volume"]

# %% [markdown]
# The figures are saved as PNG files beside the training report:

# %%
for path in plots.save_figures(
    {f"01_{name}": figure for name, figure in figures.items()}, inputs.figures_dir
):
    print(path)
