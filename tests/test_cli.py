"""The command line: listing, showing, solving, one-line errors with exit code 2, generated docs."""
import json
import subprocess
import sys

import pytest

import spikepde
from spikepde.cli import main


def test_list_has_one_line_per_problem(capsys):
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == len(spikepde.list_problems()) >= 14
    burgers = next(line for line in lines if line.startswith("burgers"))
    assert "u_t + u*u_x - nu*u_xx = 0" in burgers


def test_show_prints_equation_domain_conditions_reference_budget(capsys):
    assert main(["show", "burgers"]) == 0
    out = capsys.readouterr().out
    for text in ("Domain", "x in [-1, 1]", "initial", "dirichlet", "burgers_cole_hopf", "steps = 2000",
                 "6.7e-04" if "6.7e-04" in out else "0.00067"):
        assert text in out, text


def test_unknown_problem_lists_the_catalogue(capsys):
    assert main(["show", "nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown problem 'nope'" in err and "burgers" in err and len(err.strip().splitlines()) == 1


def test_bad_flag_value_is_a_one_line_error():
    proc = subprocess.run([sys.executable, "-m", "spikepde.cli", "solve", "burgers", "--steps", "many"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "invalid int value" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="checks the message on a CPU-only build")
def test_unusable_device_is_a_one_line_error_before_any_work(tmp_path, capsys):
    for device, expected in [("cuda", "sees no CUDA GPU"), ("tpu", "device must be 'cpu' or 'cuda'")]:
        assert main(["solve", "poisson1d", "--device", device, "--out", str(tmp_path / device), "--quiet"]) == 2
        err = capsys.readouterr().err
        assert expected in err and len(err.strip().splitlines()) == 1
        assert not (tmp_path / device / "checkpoint.pt").exists()


def test_invalid_spec_names_file_and_field(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\ntitle = "t"\n[variables]\nspace = ["x"]\n[domain]\nx = [1.0, 0.0]\n'
                   '[pde]\nresidual = "u_xx"\n[reference]\nexact = "0"\n')
    assert main(["show", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.toml" in err and "domain" in err


def test_solve_json_and_param(tmp_path, capsys):
    code = main(["solve", "burgers", "--method", "bptt", "--steps", "3", "--width", "8", "--T", "3",
                 "--interior-points", "32", "--param", "nu=0.02", "--out", str(tmp_path / "r"),
                 "--json", "--quiet"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["metrics"]["parameters"]["nu"] == 0.02
    assert data["metrics"]["steps"] == 3
    assert (tmp_path / "r" / "fields.png").exists()


def test_admm_options_are_parsed_and_checked(tmp_path, capsys):
    from spikepde.cli import parse_assignments

    assert parse_assignments(["test_per_axis=6", "rho=2.5", "balance=true", "output_growth=none",
                              "pde_form=weak"], "--admm") == {"test_per_axis": 6, "rho": 2.5, "balance": True,
                                                              "output_growth": None, "pde_form": "weak"}
    assert main(["solve", "poisson1d", "--method", "admm", "--admm", "rhoo=1", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "unknown option(s) rhoo" in err and "test_per_axis" in err and len(err.strip().splitlines()) == 1
    assert main(["solve", "poisson1d", "--method", "admm", "--admm", "rho", "--quiet"]) == 2
    assert "--admm expects NAME=VALUE" in capsys.readouterr().err
    assert main(["solve", "poisson1d", "--method", "bptt", "--admm", "rho=1", "--quiet"]) == 2
    assert "for --method admm" in capsys.readouterr().err
    code = main(["solve", "poisson1d", "--method", "admm", "--steps", "2", "--width", "8", "--T", "4",
                 "--admm", "test_per_axis=7", "--out", str(tmp_path / "r"), "--quiet"])
    assert code == 0
    saved = json.loads((tmp_path / "r" / "config.json").read_text())
    assert saved["admm"] == {"test_per_axis": 7}


def test_generated_docs_are_current():
    from spikepde.docs import main as docs_main
    from pathlib import Path
    docs = Path(__file__).resolve().parents[1] / "docs"
    if not docs.exists():
        pytest.skip("docs/ not available")
    assert docs_main(["--check", "--dir", str(docs)]) == 0, "run: python -m spikepde.docs"
