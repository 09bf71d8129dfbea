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
# # What drives conversion
#
# What has the learned model found in your history? This notebook reads it from the model
# itself, on the same out-of-time leads as notebook 01, in two ways:
#
# - **Contributions**: for every lead, how much each piece of information pushed its score up
#   or down compared with the average lead. We group the ~100 model inputs into *drivers*
#   ("demo request" instead of "demo requests in the last 7 days", "days since the last demo
#   request", ...).
# - **What an action is worth**: the same lead scored again as if it had never done the
#   action. The difference is what the action is worth to the model, including its share
#   in inputs such as "recent intent activity".
#
# Effects are odds multipliers: **×2** means twice the odds of becoming a deal, **×0.5** half.
#
# Set `LEADSCORE_NB_MODEL` and `LEADSCORE_NB_DATA` to analyse your own model (see notebook
# 01); without them a synthetic demo is used.

# %%
# %matplotlib inline
import pandas as pd
from IPython.display import display

from features.contract.schema import INTENT_EVENTS
from training import plots
from training.analysis import drivers
from training.analysis import learned_vs_points as analysis
from training.analysis import plots as analysis_plots
from training.analysis.notebook_inputs import NotebookSettings, notebook_inputs

pd.set_option("display.max_colwidth", 120)

# %% tags=["parameters"]
settings = NotebookSettings()  # reads the LEADSCORE_NB_* environment variables

# %%
inputs = notebook_inputs(settings)
print(inputs.source)
comparison = analysis.learned_vs_points(inputs.contract, inputs.model, inputs.rules)
contributions, features, y = comparison.contributions, comparison.features, comparison.y
figures = {}

# %% [markdown]
# ## 1. What moves the score most
#
# The typical size of each driver's push, up or down, averaged over all leads. "Direction"
# says which way: for a number, whether higher values raise the score; for a category,
# its best and worst value.

# %%
effects = drivers.global_effects(contributions, features)
display(effects.head(15)[["label", "mean_abs_contribution", "share", "direction"]])
figures["drivers"] = analysis_plots.drivers_figure(effects)
figures["drivers"]

# %% [markdown]
# ## 2. What each action is worth
#
# For the leads who did an action: their odds of buying with it, against the same leads
# without it. Green actions raise the odds, red ones lower them. Actions that few leads do
# can still matter a lot for those few.

# %%
actions = drivers.action_summary(comparison.action_effects)
display(actions)
figures["actions"] = analysis_plots.actions_figure(actions)
figures["actions"]

# %% [markdown]
# ## 3. How fast intent fades
#
# Hand-raises and pricing visits are strong signals when fresh. How strong are they a week
# later, a month later? Below: the action's worth by how long ago the lead last did it.
# Compare with the half-lives in your rules file (the days after which the points halve).

# %%
intent = [e.value for e in INTENT_EVENTS if e.value in comparison.action_effects]
by_age = {e: drivers.effect_by_age(comparison.action_effects, features, y, e) for e in intent}
for event, table in by_age.items():
    rule = inputs.rules.actions.get(event)
    half_life = (
        "no decay"
        if rule is None or rule.half_life_days is None
        else (f"half-life {rule.half_life_days:g} days")
    )
    print(f"{event.replace('_', ' ')} (your rules: {half_life})")
    display(table)
figures["intent_decay"] = analysis_plots.decay_figure(by_age)
figures["intent_decay"]

# %% [markdown]
# ## 4. Which fit attributes matter
#
# Who the lead is: job title (seniority and department), company size, industry, country,
# email domain. For the attributes the model leans on most, the effect of each value
# compared with the average lead (values seen on fewer than 20 leads are left out).

# %%
attribute_names = list(inputs.model.spec.pipeline.attributes.names)
strongest = [d for d in effects["driver"] if d in attribute_names][:4]
for name in strongest:
    table = drivers.attribute_effects(contributions, features, y, name)
    display(table)
    figures[f"fit_{name}"] = analysis_plots.attribute_figure(table, name)
    display(figures[f"fit_{name}"])

# %% [markdown]
# ## 5. Where the hand-weighted rules over- or under-value something
#
# Rule by rule: the points your rules give (on average, to the leads that got them) against
# the points the model's judgement is worth on the same scale. "Over-valued" means the
# rule gives more than the model thinks the signal is worth; "under-valued" the opposite;
# for minus points, "over-penalised" and "under-penalised".

# %%
verdicts = drivers.rules_vs_model(
    comparison.points_breakdown,
    comparison.frame["log_odds"].to_numpy(),
    comparison.action_effects,
    contributions,
    inputs.model.spec.pipeline,
)
print(
    "On these leads, doubling a lead's odds is worth about "
    f"{verdicts.attrs['points_to_double_odds']:.0f} of your points."
)
display(verdicts)
figures["rules_vs_model"] = analysis_plots.rules_vs_model_figure(verdicts)
figures["rules_vs_model"]

# %% [markdown]
# Notebook 03 turns the model into a points table of its own, in your rules file's format.
#
# The figures are saved as PNG files beside the training report:

# %%
for path in plots.save_figures(
    {f"02_{name}": figure for name, figure in figures.items()}, inputs.figures_dir
):
    print(path)
