"""The single door for Qt: every other ui module imports its Qt names from here.

Keeping the binding in one module means one place to change it and one place that
decides how matplotlib's Qt canvas is found (it must use the same binding).
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_API", "pyside6")  # matplotlib's Qt backend: the same binding

# After PySide6: matplotlib's Qt canvas picks up the binding already imported.
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from PySide6.QtCore import (
    QAbstractTableModel,
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRect,
    QRunnable,
    QSize,
    QSortFilterProxyModel,
    Qt,
    QThreadPool,
    QTimer,
    QtMsgType,
    Signal,
    Slot,
    qInstallMessageHandler,
)
from PySide6.QtGui import (
    QAction,
    QBrush,
    QCloseEvent,
    QColor,
    QFont,
    QGuiApplication,
    QKeyEvent,
    QKeySequence,
    QPainter,
    QPalette,
    QResizeEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QCheckBox,
    QComboBox,
    QCompleter,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QTabWidget,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

__all__ = [
    "FigureCanvasQTAgg",
    "QAbstractItemView",
    "QAbstractTableModel",
    "QAction",
    "QApplication",
    "QBrush",
    "QCheckBox",
    "QCloseEvent",
    "QColor",
    "QComboBox",
    "QCompleter",
    "QDialog",
    "QDialogButtonBox",
    "QEvent",
    "QFont",
    "QFormLayout",
    "QFrame",
    "QGridLayout",
    "QGroupBox",
    "QGuiApplication",
    "QHBoxLayout",
    "QHeaderView",
    "QKeyEvent",
    "QKeySequence",
    "QLabel",
    "QLineEdit",
    "QListView",
    "QListWidget",
    "QListWidgetItem",
    "QMainWindow",
    "QMessageBox",
    "QModelIndex",
    "QObject",
    "QPainter",
    "QPalette",
    "QPersistentModelIndex",
    "QPushButton",
    "QRect",
    "QResizeEvent",
    "QRunnable",
    "QScrollArea",
    "QSize",
    "QSizePolicy",
    "QSortFilterProxyModel",
    "QSplitter",
    "QStyle",
    "QStyleOptionViewItem",
    "QStyledItemDelegate",
    "QTabWidget",
    "QTableView",
    "QThreadPool",
    "QTimer",
    "QToolBar",
    "QToolButton",
    "QVBoxLayout",
    "QWidget",
    "Qt",
    "QtMsgType",
    "Signal",
    "Slot",
    "qInstallMessageHandler",
]

# The taper charts and the study dashboard (appended, so other additions merge cleanly).
from matplotlib.backends.backend_qtagg import NavigationToolbar2QT
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QFileDialog, QMenu

__all__ += ["NavigationToolbar2QT", "QFileDialog", "QMenu", "QShowEvent"]
