# -*- coding: utf-8 -*-

################################################################################
## Form generated from reading UI file 'topup_dialog.ui'
##
## Created by: Qt User Interface Compiler version 6.11.3
##
## WARNING! All changes made in this file will be lost when recompiling UI file!
################################################################################

from PySide6.QtCore import (QCoreApplication, QDate, QDateTime, QLocale,
    QMetaObject, QObject, QPoint, QRect,
    QSize, QTime, QUrl, Qt)
from PySide6.QtGui import (QBrush, QColor, QConicalGradient, QCursor,
    QFont, QFontDatabase, QGradient, QIcon,
    QImage, QKeySequence, QLinearGradient, QPainter,
    QPalette, QPixmap, QRadialGradient, QTransform)
from PySide6.QtWidgets import (QAbstractButton, QApplication, QDialog, QDialogButtonBox,
    QLabel, QListWidget, QListWidgetItem, QProgressBar,
    QSizePolicy, QVBoxLayout, QWidget)

class Ui_TopUpDialog(object):
    def setupUi(self, TopUpDialog):
        if not TopUpDialog.objectName():
            TopUpDialog.setObjectName(u"TopUpDialog")
        TopUpDialog.setMinimumSize(QSize(460, 0))
        self.layout = QVBoxLayout(TopUpDialog)
        self.layout.setObjectName(u"layout")
        self.message = QLabel(TopUpDialog)
        self.message.setObjectName(u"message")
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.message.setWordWrap(True)

        self.layout.addWidget(self.message)

        self.busy = QProgressBar(TopUpDialog)
        self.busy.setObjectName(u"busy")
        self.busy.setMaximumSize(QSize(16777215, 8))
        self.busy.setMaximum(0)
        self.busy.setTextVisible(False)

        self.layout.addWidget(self.busy)

        self.list = QListWidget(TopUpDialog)
        self.list.setObjectName(u"list")

        self.layout.addWidget(self.list)

        self.charge = QLabel(TopUpDialog)
        self.charge.setObjectName(u"charge")
        self.charge.setTextFormat(Qt.TextFormat.PlainText)
        self.charge.setWordWrap(True)

        self.layout.addWidget(self.charge)

        self.buttons = QDialogButtonBox(TopUpDialog)
        self.buttons.setObjectName(u"buttons")
        self.buttons.setStandardButtons(QDialogButtonBox.StandardButton.Cancel)

        self.layout.addWidget(self.buttons)


        self.retranslateUi(TopUpDialog)

        QMetaObject.connectSlotsByName(TopUpDialog)
    # setupUi

    def retranslateUi(self, TopUpDialog):
        TopUpDialog.setWindowTitle(QCoreApplication.translate("TopUpDialog", u"Top up", None))
    # retranslateUi

