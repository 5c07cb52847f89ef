"""Four-player chess (free-for-all, chess.com rules) as a meeple game.

Modules: :mod:`.geometry` (board and tables), :mod:`.attacks`, :mod:`.position`
(make/unmake), :mod:`.movegen` (legal moves, perft), :mod:`.fen4`,
:mod:`.notation`, :mod:`.scoring`, :mod:`.flow` (points, eliminations, the end),
:mod:`.state` and :mod:`.game`.
"""

from meeple.rules.fourchess.game import FourChess
from meeple.rules.fourchess.geometry import START_FEN4, Move
from meeple.rules.fourchess.state import FourChessState

__all__ = ["START_FEN4", "FourChess", "FourChessState", "Move"]
