# -*- coding: utf-8 -*-

################################################################################
## Form generated from reading UI file 'vendor_account.ui'
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
from PySide6.QtWidgets import (QApplication, QFormLayout, QGroupBox, QLabel,
    QLineEdit, QPushButton, QSizePolicy, QWidget)

class Ui_VendorAccount(object):
    def setupUi(self, VendorAccount):
        if not VendorAccount.objectName():
            VendorAccount.setObjectName(u"VendorAccount")
        self.form = QFormLayout(VendorAccount)
        self.form.setObjectName(u"form")
        self.base_url_label = QLabel(VendorAccount)
        self.base_url_label.setObjectName(u"base_url_label")

        self.form.setWidget(0, QFormLayout.ItemRole.LabelRole, self.base_url_label)

        self.base_url = QLineEdit(VendorAccount)
        self.base_url.setObjectName(u"base_url")

        self.form.setWidget(0, QFormLayout.ItemRole.FieldRole, self.base_url)

        self.test_button = QPushButton(VendorAccount)
        self.test_button.setObjectName(u"test_button")

        self.form.setWidget(1, QFormLayout.ItemRole.LabelRole, self.test_button)

        self.test_result = QLabel(VendorAccount)
        self.test_result.setObjectName(u"test_result")
        self.test_result.setTextFormat(Qt.TextFormat.PlainText)
        self.test_result.setWordWrap(True)
        self.test_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.form.setWidget(1, QFormLayout.ItemRole.FieldRole, self.test_result)

#if QT_CONFIG(shortcut)
        self.base_url_label.setBuddy(self.base_url)
#endif // QT_CONFIG(shortcut)

        self.retranslateUi(VendorAccount)

        QMetaObject.connectSlotsByName(VendorAccount)
    # setupUi

    def retranslateUi(self, VendorAccount):
        VendorAccount.setTitle(QCoreApplication.translate("VendorAccount", u"Vendor", None))
        self.base_url_label.setText(QCoreApplication.translate("VendorAccount", u"Base URL", None))
        self.test_button.setText(QCoreApplication.translate("VendorAccount", u"Test connection", None))
    # retranslateUi

