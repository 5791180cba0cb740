"""The README's Layout section is the true map of the tree, and the import rules it states
hold: symbol/ needs nothing of common/, and every entry point that loads mxnet calls
common.runtime.configure() before it does."""
import ast
import os
import re

import pytest

from helpers import ROOT

PACKAGES = ('symbol', 'common', 'tools', 'tests')


def _layout_block():
    with open(os.path.join(ROOT, 'README.md')) as f:
        readme = f.read()
    section = readme[readme.index('## Layout'):]
    return section.split('```')[1]


def _mapped_files():
    """{'score.py', 'symbol/builder.py', ...}: every file the Layout block names."""
    mapped, folder = set(), ''
    for line in _layout_block().splitlines():
        if not line.strip():
            continue
        name = line.split()[0]
        if not line.startswith(' '):
            folder = name.rstrip('/') if name.endswith('/') else ''
            if not folder:
                mapped.update(n.rstrip(',') for n in line.split() if n.rstrip(',').endswith('.py'))
        else:  # (one name, or several separated by commas, then the description)
            for word in line.split():
                if not word.rstrip(',').endswith('.py'):
                    break
                name = word.rstrip(',')
                mapped.add('%s/%s' % (folder, name) if folder else name)
    return mapped


def _python_files():
    found = {n for n in os.listdir(ROOT) if n.endswith('.py')}
    for package in PACKAGES:
        found.update('%s/%s' % (package, n) for n in os.listdir(os.path.join(ROOT, package))
                     if n.endswith('.py'))
    return found


def test_layout_names_every_module_and_only_existing_ones():
    mapped, present = _mapped_files(), _python_files()
    assert sorted(present - mapped) == [], 'modules missing from the README Layout'
    assert sorted(mapped - present) == [], 'the README Layout names files that do not exist'


def _imported(node, path):
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom):
        base = (('%s.' % path.split('/')[0]) * (node.level > 0) + (node.module or '')).rstrip('.')
        return [base] + ['%s.%s' % (base, a.name) for a in node.names]
    return []


def _module_imports(path, nested=False):
    """[(top-level statement index, imported module name)] of a file (``nested``: the
    imports inside functions too, each at the index of its top-level statement)."""
    with open(os.path.join(ROOT, path)) as f:
        tree = ast.parse(f.read())
    out = []
    for i, top in enumerate(tree.body):
        for node in (ast.walk(top) if nested else [top]):
            out += [(i, m) for m in _imported(node, path)]
    return tree, out


@pytest.mark.parametrize('path', sorted(p for p in _python_files() if p.startswith('symbol/')))
def test_symbol_is_a_library_that_needs_nothing_of_common(path):
    _, imports = _module_imports(path)
    assert not [m for _, m in imports if m == 'common' or m.startswith('common.')]
    with open(os.path.join(ROOT, path)) as f:
        assert not re.search(r'^\s+(import common|from common)', f.read(), re.M)


def _loads_mxnet():
    """The common/ modules whose import loads mxnet (directly or through another)."""
    heavy = set()
    modules = [p for p in _python_files() if p.startswith('common/')]
    changed = True
    while changed:
        changed = False
        for path in modules:
            name = path[:-3].replace('/', '.')
            if name in heavy:
                continue
            _, imports = _module_imports(path)
            if any(m.split('.')[0] in ('mxnet', 'symbol') or m in heavy for _, m in imports):
                heavy.add(name)
                changed = True
    return heavy


def _configure_index(tree):
    for i, node in enumerate(tree.body):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) \
                and ast.unparse(node.value.func) == 'runtime.configure':
            return i
    return None


ENTRY_POINTS = sorted(p for p in _python_files() if '/' not in p or
                      (p.startswith('tools/') and p != 'tools/_path.py'))


@pytest.mark.parametrize('path', ENTRY_POINTS)
def test_entry_points_configure_the_runtime_before_mxnet_loads(path):
    heavy = _loads_mxnet()
    assert {'common.fit', 'common.data', 'common.checkpoint'} <= heavy
    assert 'common.cli' not in heavy and 'common.runtime' not in heavy
    tree, imports = _module_imports(path, nested=True)
    first = min((i for i, m in imports if m.split('.')[0] in ('mxnet', 'symbol')
                 or m in heavy or any(m.startswith(h + '.') for h in heavy)), default=None)
    configured = _configure_index(tree)
    if first is None:
        assert configured is None, '%s uses no mxnet: it should not configure it' % path
    else:
        assert configured is not None and configured < first, path


def test_license_and_citation():
    """LICENSE is MIT (as CITATION.cff and the README say); CITATION.cff is valid YAML of
    the Citation File Format whose preferred citation is the paper the README names."""
    import pathlib
    import yaml
    root = pathlib.Path(ROOT)
    assert (root / 'LICENSE').read_text().startswith('MIT License')
    cff = yaml.safe_load((root / 'CITATION.cff').read_text())
    assert cff['cff-version'] == '1.2.0' and cff['license'] == 'MIT'
    paper = cff['preferred-citation']
    assert paper['title'] == ('IGCV3: Interleaved Low-Rank Group Convolutions for Efficient '
                              'Deep Neural Networks')
    assert [a['family-names'] for a in paper['authors']] == ['Sun', 'Li', 'Liu', 'Wang']
    assert 'arXiv:1806.00178' in [i['value'] for i in paper['identifiers']]
    readme = (root / 'README.md').read_text()
    assert 'arXiv:1806.00178' in readme and '(MIT, `LICENSE`)' in readme
    assert '@inproceedings{sun2018igcv3' in readme


def _anchor(heading):
    """GitHub's anchor of a Markdown heading: lower case, punctuation dropped, spaces to -."""
    return re.sub(r'[^\w\- ]', '', heading.strip().lower()).replace(' ', '-')


def test_links_of_the_readme_and_docs_resolve():
    """Every relative link of README.md, models/README.md and docs/*.md names a file of the
    repository and, with #anchor, a heading of that file (the reference moved to docs/)."""
    pages = ['README.md', 'models/README.md'] + ['docs/' + n for n in
                                                 sorted(os.listdir(os.path.join(ROOT, 'docs')))]
    assert len(pages) > 5
    broken = []
    for page in pages:
        with open(os.path.join(ROOT, page)) as f:
            text = f.read()
        for target in re.findall(r'\]\(([^)\s]+)\)', text):
            if re.match(r'[a-z]+:', target):
                continue  # (https: and the like)
            path, _, anchor = target.partition('#')
            full = os.path.normpath(os.path.join(ROOT, os.path.dirname(page), path)) \
                if path else os.path.join(ROOT, page)
            if not os.path.exists(full):
                broken.append('%s: %s' % (page, target))
            elif anchor:
                with open(full) as f:
                    headings = [_anchor(l.lstrip('#')) for l in f if l.startswith('#')]
                if anchor not in headings:
                    broken.append('%s: %s (no such heading)' % (page, target))
    assert broken == []


SCRIPTS = {p[:-3].split('/')[-1] for p in _python_files()
           if '/' not in p or p.startswith('tools/')} - {'_path'}


@pytest.mark.parametrize('path', sorted(p for p in _python_files()
                                        if '/' not in p or p.startswith(('tools/', 'common/',
                                                                         'symbol/'))))
def test_no_module_imports_a_script(path):
    """Entry points and tools are command lines: what another needs lives in common/ or
    symbol/ (a recipe, the paper's tables, the PyTorch networks), never imported from a
    script (tools/_path.py, which puts the root on sys.path, excepted)."""
    _, imports = _module_imports(path, nested=True)
    assert sorted({m for _, m in imports if m.split('.')[0] in SCRIPTS}) == []


@pytest.mark.parametrize('path', sorted(p for p in _python_files()
                                        if p.startswith('tools/') and p != 'tools/_path.py'))
def test_a_tool_is_its_flags_and_main(path):
    """A tool defines main and the handling of its flags (parse_*, check_*) and nothing
    else: what it does lives in common/ or symbol/, importable and tested as a module."""
    with open(os.path.join(ROOT, path)) as f:
        tree = ast.parse(f.read())
    defined = [node.name for node in tree.body
               if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    assert 'main' in defined
    assert [n for n in defined if n != 'main' and not n.startswith(('parse_', 'check_'))] == []
