"""The two networks of the served path.

FrameNet: the whole frame (letterboxed to 208x128) -> a nodule probability map (stride 4) and the
probability that the frame is a B-mode thyroid ultrasound (the image half of the scope gate).
NoduleNet: a 160x160 crop around one nodule -> the ACR TI-RADS lexicon heads (composition,
echogenicity, margin, echogenic foci) and a learned suspicion logit. Both average over the input and
its left-right mirror inside the graph (depth direction is never flipped).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

# Category order of each head; the TypeScript side maps them to packages/nodule-model/src/tirads.ts codes.
HEADS = {
    'composition': ['cystic', 'spongiform', 'mixed', 'solid'],
    'echogenicity': ['hyper-iso', 'hypo', 'very-hypo'],
    'margin': ['smooth', 'ill-defined', 'lobulated-irregular'],
    'echogenicFoci': ['none', 'macro', 'punctate'],
}
POINTS = {
    'composition': [0, 0, 1, 2],
    'echogenicity': [1, 2, 3],
    'margin': [0, 0, 2],
    'echogenicFoci': [0, 1, 3],
}


def conv(cin, cout, stride=1):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class FrameNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(conv(1, 12, 2), conv(12, 16))          # 64x104
        self.e2 = nn.Sequential(conv(16, 24, 2), conv(24, 24))           # 32x52
        self.e3 = nn.Sequential(conv(24, 40, 2), conv(40, 40))           # 16x26
        self.e4 = nn.Sequential(conv(40, 64, 2), conv(64, 64))           # 8x13
        self.d3 = conv(64 + 40, 40)
        self.d2 = conv(40 + 24, 24)
        self.head = nn.Conv2d(24, 1, 1)
        self.gate = nn.Sequential(nn.Linear(128, 32), nn.ReLU(inplace=True), nn.Linear(32, 1))

    def forward_one(self, x):
        s = self.stem(x)
        e2 = self.e2(s)
        e3 = self.e3(e2)
        e4 = self.e4(e3)
        d3 = self.d3(torch.cat([F.interpolate(e4, size=e3.shape[2:], mode='nearest'), e3], 1))
        d2 = self.d2(torch.cat([F.interpolate(d3, size=e2.shape[2:], mode='nearest'), e2], 1))
        pooled = torch.cat([e4.mean(dim=(2, 3)), e4.amax(dim=(2, 3))], 1)
        return self.head(d2), self.gate(pooled)

    def forward(self, x):
        m1, g1 = self.forward_one(x)
        m2, g2 = self.forward_one(torch.flip(x, [3]))
        return (m1 + torch.flip(m2, [3])) / 2, (g1 + g2) / 2


class FrameExport(nn.Module):
    """ONNX graph: image -> nodule_prob (N,1,32,52), thyroid_prob (N,1)."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, image):
        m, g = self.net(image)
        return torch.sigmoid(m), torch.sigmoid(g)


class NoduleNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            conv(1, 16, 2), conv(16, 16),       # 80
            conv(16, 32, 2), conv(32, 32),      # 40
            conv(32, 48, 2), conv(48, 48),      # 20
            conv(48, 64, 2), conv(64, 64),      # 10
        )
        self.drop = nn.Dropout(0.3)
        self.heads = nn.ModuleDict({k: nn.Linear(128, len(v)) for k, v in HEADS.items()})
        self.susp = nn.Linear(128, 1)

    def features(self, x):
        f = self.body(x)
        return torch.cat([f.mean(dim=(2, 3)), f.amax(dim=(2, 3))], 1)

    def forward_one(self, x):
        f = self.drop(self.features(x))
        return {k: h(f) for k, h in self.heads.items()}, self.susp(f)

    def forward(self, x):
        a, s1 = self.forward_one(x)
        b, s2 = self.forward_one(torch.flip(x, [3]))
        return {k: (a[k] + b[k]) / 2 for k in a}, (s1 + s2) / 2


class NoduleExport(nn.Module):
    """ONNX graph: crop -> one softmax output per lexicon head, and suspicion_logit (N,1)."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, crop):
        logits, susp = self.net(crop)
        return tuple(torch.softmax(logits[k], 1) for k in HEADS) + (susp,)
