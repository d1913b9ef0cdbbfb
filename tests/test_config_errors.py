"""Config errors in one line: jsonargparse's nested messages read, the place found, the nearest key named."""

from __future__ import annotations

from lit_gen.config_errors import explain, locate, nearest, read_message

#: jsonargparse 4.53's message for `--model.init_args.likelihood.init_args.sigma -0.1`, as the CLI received it
NEGATIVE_SIGMA = """Parser key "model":
  Does not validate against any of the Union subtypes
  Subtypes: [<class 'lit_gen.models.base.GenerativeModel'>, <class 'NoneType'>]
  Errors:
    - Problem with given class_path 'lit_gen.models.VAE':
        Parser key "likelihood":
          Does not validate against any of the Union subtypes
          Subtypes: [<class 'lit_gen.models.likelihoods.Likelihood'>, <class 'NoneType'>]
          Errors:
            - Problem with given class_path 'lit_gen.models.GaussianLikelihood':
                Parser key "sigma":
                  Not of type PositiveFloat: -0.1 does not conform to restriction v>0"""

UNKNOWN_MODEL_KEY = """Parser key "model":
  Does not validate against any of the Union subtypes
  Subtypes: [<class 'lit_gen.models.base.GenerativeModel'>, <class 'NoneType'>]
  Errors:
    - Problem with given class_path 'lit_gen.models.VAE':
        Option 'latnet_dim' is not accepted"""


def test_the_key_and_the_innermost_complaint_are_read_from_the_nest():
    problem = read_message(NEGATIVE_SIGMA)
    assert problem.key == "model.init_args.likelihood.init_args.sigma"
    assert problem.complaint == "must be > 0" and problem.class_path == "lit_gen.models.GaussianLikelihood"
    unknown = read_message(UNKNOWN_MODEL_KEY)
    assert (unknown.key, unknown.unknown, unknown.class_path) == ("model.init_args.latnet_dim", "latnet_dim",
                                                                  "lit_gen.models.VAE")
    top = read_message("Subcommand 'fit' does not accept option 'trainer.max_epochz'")
    assert (top.key, top.unknown) == ("trainer.max_epochz", "max_epochz")


def test_the_place_is_the_last_flag_or_file_that_sets_the_key(tmp_path):
    (tmp_path / "model.yaml").write_text("class_path: lit_gen.models.VAE\ninit_args:\n  latent_dim: 0\n")
    (tmp_path / "experiment.yaml").write_text("model: model.yaml\n")
    experiment = str(tmp_path / "experiment.yaml")
    where, value = locate("model.init_args.latent_dim", ["fit", "--config", experiment])
    assert (where, value) == (f"{tmp_path / 'model.yaml'}: init_args.latent_dim", 0)
    where, value = locate("model.init_args.latent_dim", ["fit", "--config", experiment,
                                                         "--model.init_args.latent_dim=-3"])
    assert (where, value) == ("--model.init_args.latent_dim", "-3")
    assert locate("trainer.max_epochs", ["fit", "--config", experiment]) == (None, locate("x", [])[1])


def test_each_message_is_one_line_with_the_fix():
    line = explain(UNKNOWN_MODEL_KEY, ["fit", "--model.init_args.latnet_dim", "16"])
    assert line == ("--model.init_args.latnet_dim: unknown key 'latnet_dim' of lit_gen.models.VAE: "
                    "did you mean 'latent_dim'?")
    assert explain(NEGATIVE_SIGMA, ["fit", "--model.init_args.likelihood.init_args.sigma", "-0.1"]) == (
        "--model.init_args.likelihood.init_args.sigma -0.1: must be > 0")
    assert nearest("cpus_per_tsk", ["cpus_per_task", "devices"], "keys") == "did you mean 'cpus_per_task'?"
    assert nearest("zzz", ["b", "a"], "keys") == "the keys are a, b"
