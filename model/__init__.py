"""TCJA-SNN model: the attention block, named network configurations and checkpoint files."""

from eventcore.errors import CheckpointError
from model.checkpoint import CheckpointMeta, Windowing, load_checkpoint, save_checkpoint
from model.networks import CONFIGS, NetConfig, NetOutput, TCJANet, build_network, count_parameters
from model.tcja import TCJA

__all__ = [
    "CONFIGS",
    "TCJA",
    "CheckpointError",
    "CheckpointMeta",
    "NetConfig",
    "NetOutput",
    "TCJANet",
    "Windowing",
    "build_network",
    "count_parameters",
    "load_checkpoint",
    "save_checkpoint",
]
