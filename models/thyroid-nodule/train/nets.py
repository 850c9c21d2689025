"""The network of the served path.

FrameNet: the whole frame (letterboxed to 312x192) -> a nodule probability map (stride 4) and the
probability that the frame is a B-mode thyroid ultrasound (the image half of the scope gate). It
averages over the input and its left-right mirror inside the graph (depth is never flipped).
The crop network of model 2.x (NoduleNet: lexicon heads and a suspicion logit learned from 160 px
crops) is gone: trained from scratch on 233 labelled cases its heads scored at the majority class and
its logit at chance; measured descriptors (descriptors.py) replaced it.
"""
import os
import torch
import torch.nn as nn
import torch.nn.functional as F

def conv(cin, cout, stride=1):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class FrameNet(nn.Module):
    """A small U-Net. levels=5 (3.5.0, with the 312x192 frame) has an encoder level at stride 32, so the
    receptive field of the deepest features still spans most of the larger frame; levels=4 is 3.4.0's network
    (208x128). TRIAGE_FRAME_LEVELS chooses for side experiments. Shapes below for 312x192."""

    def __init__(self, levels=None):
        super().__init__()
        self.levels = levels or int(os.environ.get('TRIAGE_FRAME_LEVELS', '5'))
        self.stem = nn.Sequential(conv(1, 12, 2), conv(12, 16))          # 96x156
        self.e2 = nn.Sequential(conv(16, 24, 2), conv(24, 24))           # 48x78 (the map's grid)
        self.e3 = nn.Sequential(conv(24, 40, 2), conv(40, 40))           # 24x39
        self.e4 = nn.Sequential(conv(40, 64, 2), conv(64, 64))           # 12x20
        deepest = 64
        if self.levels == 5:
            self.e5 = nn.Sequential(conv(64, 96, 2), conv(96, 96))   # 6x10
            self.d4 = conv(96 + 64, 64)
            deepest = 96
        self.d3 = conv(64 + 40, 40)
        self.d2 = conv(40 + 24, 24)
        self.head = nn.Conv2d(24, 1, 1)
        self.gate = nn.Sequential(nn.Linear(2 * deepest, 32), nn.ReLU(inplace=True), nn.Linear(32, 1))

    def forward_one(self, x):
        s = self.stem(x)
        e2 = self.e2(s)
        e3 = self.e3(e2)
        e4 = self.e4(e3)
        top = e4
        if self.levels == 5:
            e5 = self.e5(e4)
            top = e5
            e4 = self.d4(torch.cat([F.interpolate(e5, size=e4.shape[2:], mode='nearest'), e4], 1))
        d3 = self.d3(torch.cat([F.interpolate(e4, size=e3.shape[2:], mode='nearest'), e3], 1))
        d2 = self.d2(torch.cat([F.interpolate(d3, size=e2.shape[2:], mode='nearest'), e2], 1))
        pooled = torch.cat([top.mean(dim=(2, 3)), top.amax(dim=(2, 3))], 1)
        return self.head(d2), self.gate(pooled)

    def forward(self, x):
        m1, g1 = self.forward_one(x)
        m2, g2 = self.forward_one(torch.flip(x, [3]))
        return (m1 + torch.flip(m2, [3])) / 2, (g1 + g2) / 2


class FrameExport(nn.Module):
    """ONNX graph: image -> nodule_prob (N,1,48,78), thyroid_prob (N,1).

    Given several FrameNets (one recipe, different seeds: TRIAGE_FRAME_SEEDS), the graph averages their
    probabilities; the served path reads the same two outputs either way. Measured in session 17 and not
    shipped: the mean of three scored no better than its members, at three times the cost (the card).
    """

    def __init__(self, net):
        super().__init__()
        self.members = nn.ModuleList(list(net) if isinstance(net, (list, tuple)) else [net])

    def forward(self, image):
        outs = [member(image) for member in self.members]
        if len(outs) == 1:
            return torch.sigmoid(outs[0][0]), torch.sigmoid(outs[0][1])
        prob = torch.stack([torch.sigmoid(m) for m, _ in outs]).mean(dim=0)
        gate = torch.stack([torch.sigmoid(g) for _, g in outs]).mean(dim=0)
        return prob, gate
