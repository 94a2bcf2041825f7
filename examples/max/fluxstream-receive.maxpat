{
  "patcher": {
    "fileversion": 1,
    "appversion": {
      "major": 8,
      "minor": 5,
      "revision": 0,
      "architecture": "x64",
      "modernui": 1
    },
    "classnamespace": "box",
    "rect": [
      100.0,
      100.0,
      760.0,
      420.0
    ],
    "bglocked": 0,
    "openinpresentation": 0,
    "default_fontsize": 12.0,
    "gridsize": [
      15.0,
      15.0
    ],
    "boxes": [
      {
        "box": {
          "id": "obj-1",
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            20,
            10,
            700,
            20
          ],
          "text": "fluxstream -> Max. Run: fluxstream listen --osc 127.0.0.1:9000 (OSC bundles over UDP; blobs are not used here)"
        }
      },
      {
        "box": {
          "id": "obj-2",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            20,
            50,
            110,
            22
          ],
          "text": "udpreceive 9000",
          "outlettype": [
            ""
          ]
        }
      },
      {
        "box": {
          "id": "obj-3",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 7,
          "patching_rect": [
            20,
            90,
            700,
            22
          ],
          "text": "route /fluxstream/in/rms /fluxstream/in/centroid /fluxstream/in/onset /fluxstream/in/pitch /fluxstream/in/mel /fluxstream/in/chroma",
          "outlettype": [
            "",
            "",
            "",
            "",
            "",
            "",
            ""
          ]
        }
      },
      {
        "box": {
          "id": "obj-4",
          "maxclass": "flonum",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            20,
            140,
            60,
            22
          ],
          "outlettype": [
            "",
            "bang"
          ],
          "parameter_enable": 0,
          "format": 6
        }
      },
      {
        "box": {
          "id": "obj-5",
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            20,
            165,
            60,
            20
          ],
          "text": "rms"
        }
      },
      {
        "box": {
          "id": "obj-6",
          "maxclass": "flonum",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            120,
            140,
            60,
            22
          ],
          "outlettype": [
            "",
            "bang"
          ],
          "parameter_enable": 0
        }
      },
      {
        "box": {
          "id": "obj-7",
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            120,
            165,
            80,
            20
          ],
          "text": "centroid Hz"
        }
      },
      {
        "box": {
          "id": "obj-8",
          "maxclass": "button",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            220,
            140,
            24,
            24
          ],
          "outlettype": [
            "bang"
          ],
          "parameter_enable": 0
        }
      },
      {
        "box": {
          "id": "obj-9",
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            220,
            165,
            150,
            20
          ],
          "text": "onset (time, strength, band)"
        }
      },
      {
        "box": {
          "id": "obj-10",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 4,
          "patching_rect": [
            320,
            140,
            100,
            22
          ],
          "text": "unpack f f f f",
          "outlettype": [
            "float",
            "float",
            "float",
            "float"
          ]
        }
      },
      {
        "box": {
          "id": "obj-11",
          "maxclass": "flonum",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            320,
            175,
            60,
            22
          ],
          "outlettype": [
            "",
            "bang"
          ],
          "parameter_enable": 0
        }
      },
      {
        "box": {
          "id": "obj-12",
          "maxclass": "flonum",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            390,
            175,
            50,
            22
          ],
          "outlettype": [
            "",
            "bang"
          ],
          "parameter_enable": 0
        }
      },
      {
        "box": {
          "id": "obj-13",
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            320,
            200,
            160,
            20
          ],
          "text": "pitch Hz, MIDI note"
        }
      },
      {
        "box": {
          "id": "obj-14",
          "maxclass": "multislider",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            20,
            240,
            320,
            120
          ],
          "outlettype": [
            "",
            ""
          ],
          "parameter_enable": 0,
          "size": 40,
          "setminmax": [
            0.0,
            1.0
          ],
          "setstyle": 1
        }
      },
      {
        "box": {
          "id": "obj-15",
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            20,
            365,
            200,
            20
          ],
          "text": "mel (40 bands; set size to yours)"
        }
      },
      {
        "box": {
          "id": "obj-16",
          "maxclass": "multislider",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            360,
            240,
            200,
            120
          ],
          "outlettype": [
            "",
            ""
          ],
          "parameter_enable": 0,
          "size": 12,
          "setminmax": [
            0.0,
            1.0
          ],
          "setstyle": 1
        }
      },
      {
        "box": {
          "id": "obj-17",
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            360,
            365,
            200,
            20
          ],
          "text": "chroma (C .. B)"
        }
      },
      {
        "box": {
          "id": "obj-18",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            600,
            140,
            100,
            22
          ],
          "text": "print fluxstream"
        }
      }
    ],
    "lines": [
      {
        "patchline": {
          "source": [
            "obj-2",
            0
          ],
          "destination": [
            "obj-3",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-3",
            0
          ],
          "destination": [
            "obj-4",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-3",
            1
          ],
          "destination": [
            "obj-6",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-3",
            2
          ],
          "destination": [
            "obj-8",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-3",
            3
          ],
          "destination": [
            "obj-10",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-10",
            0
          ],
          "destination": [
            "obj-11",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-10",
            2
          ],
          "destination": [
            "obj-12",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-3",
            4
          ],
          "destination": [
            "obj-14",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-3",
            5
          ],
          "destination": [
            "obj-16",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-3",
            6
          ],
          "destination": [
            "obj-18",
            0
          ]
        }
      }
    ]
  }
}