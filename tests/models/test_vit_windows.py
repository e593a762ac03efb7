"""Window attention of the ViT backbone against known answers: which tokens each token sees.

With zero query/key weights every allowed key gets the same attention weight, and with identity
value and output projections on one-hot tokens, output row p is the indicator of the keys token
p may attend to, divided by their number. The expected key sets are written out by hand from
Swin's rule (Liu et al., ICCV 2021, §3.2): windows of (h, w) tokens; in a shifted block the
window grid is offset by half a window, and the wrapped-around pieces of the cyclic shift are
masked apart; tokens added to pad the grid to whole windows are never keys.
"""

from __future__ import annotations

import itertools

import pytest
import torch

from posekit.models.backbones.vit import Attention


def _seen(grid: tuple[int, int], window: tuple[int, int], shift: bool) -> torch.Tensor:
    """(N, N) attention weights of each token (row) over the keys (columns), N = Hp·Wp."""
    n = grid[0] * grid[1]
    attn = Attention(n, num_heads=1, attention="window", window_size=window, shift=shift)
    with torch.no_grad():
        attn.qkv.weight.zero_()
        attn.qkv.bias.zero_()
        attn.qkv.weight[2 * n:] = torch.eye(n)  # v = x
        attn.proj.weight.copy_(torch.eye(n))
        attn.proj.bias.zero_()
        return attn(torch.eye(n)[None], grid)[0]  # (N, N)


def _expected(grid: tuple[int, int], row_groups: list[list[int]], col_groups: list[list[int]]
              ) -> torch.Tensor:
    """Uniform weights over the tokens of the same row group and the same column group."""
    hp, wp = grid
    want = torch.zeros(hp * wp, hp * wp)
    for rows, cols in itertools.product(row_groups, col_groups):
        members = [r * wp + c for r in rows for c in cols]
        for p in members:
            want[p, members] = 1.0 / len(members)
    return want


@pytest.mark.parametrize("grid, window, shift, rows, cols", [
    # Plain windows of 3 x 2 on a 6 x 4 grid.
    ((6, 4), (3, 2), False, [[0, 1, 2], [3, 4, 5]], [[0, 1], [2, 3]]),
    # A 5 x 4 grid: one padding row completes the second window row, and is never a key.
    ((5, 4), (3, 2), False, [[0, 1, 2], [3, 4]], [[0, 1], [2, 3]]),
    # Shifted by (1, 1): window rows start at 1 and 4 (row 0 and the wrapped rows are apart),
    # window columns at 1 and 3.
    ((6, 4), (3, 2), True, [[0], [1, 2, 3], [4, 5]], [[0], [1, 2], [3]]),
    # Shifted, with a padding row (5 rows → 6): the padding row 5 takes no part.
    ((5, 4), (3, 2), True, [[0], [1, 2, 3], [4]], [[0], [1, 2], [3]]),
    # Non-square grid and window, shifted by (2, 1), a padding column: the sign of the shift
    # shows — rolling the other way would put rows 6, 7, 0, 1 into one window.
    ((8, 3), (4, 2), True, [[0, 1], [2, 3, 4, 5], [6, 7]], [[0], [1, 2]]),
])
def test_each_token_attends_to_its_window_only(grid, window, shift, rows, cols):
    assert torch.allclose(_seen(grid, window, shift), _expected(grid, rows, cols), atol=1e-6)
