import os

from helpers import ROOT, assert_one_line_error, run_script


def test_paper_tables_print_our_counts_beside_the_papers():
    proc = run_script('tools/summary.py', '--paper-tables')
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for title in ('CIFAR-10', 'CIFAR-100', 'ImageNet'):
        assert title in out
    assert '312,970,176' in out and '3.49M' in out and '94.96' in out and '72.2 / 90.5' in out


def test_single_network_summary():
    proc = run_script('tools/summary.py', '--network', 'igcv3', '--image-shape', '3,32,32',
                      '--num-classes', '100')
    assert proc.returncode == 0, proc.stderr
    assert '2,338,788' in proc.stdout


def test_readme_network_table_is_the_tools_output():
    proc = run_script('tools/summary.py', '--zoo', '--markdown')
    assert proc.returncode == 0, proc.stderr
    with open(os.path.join(ROOT, 'README.md')) as f:
        readme = f.read()
    assert proc.stdout.strip() in readme


def test_unknown_network_is_one_clear_line():
    proc = run_script('tools/summary.py', '--network', 'nope')
    assert_one_line_error(proc, "unknown network 'nope'", 'igcv3')
