# -*- coding: utf-8 -*-

################################################################################
## Form generated from reading UI file 'order_options.ui'
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
from PySide6.QtWidgets import (QAbstractButton, QApplication, QCheckBox, QDateTimeEdit,
    QDialog, QDialogButtonBox, QFormLayout, QLabel,
    QLineEdit, QSizePolicy, QWidget)

class Ui_OrderOptionsDialog(object):
    def setupUi(self, OrderOptionsDialog):
        if not OrderOptionsDialog.objectName():
            OrderOptionsDialog.setObjectName(u"OrderOptionsDialog")
        self.form = QFormLayout(OrderOptionsDialog)
        self.form.setObjectName(u"form")
        self.name = QLabel(OrderOptionsDialog)
        self.name.setObjectName(u"name")
        self.name.setTextFormat(Qt.TextFormat.PlainText)

        self.form.setWidget(0, QFormLayout.ItemRole.SpanningRole, self.name)

        self.start = QCheckBox(OrderOptionsDialog)
        self.start.setObjectName(u"start")

        self.form.setWidget(1, QFormLayout.ItemRole.SpanningRole, self.start)

        self.when_label = QLabel(OrderOptionsDialog)
        self.when_label.setObjectName(u"when_label")

        self.form.setWidget(2, QFormLayout.ItemRole.LabelRole, self.when_label)

        self.when = QDateTimeEdit(OrderOptionsDialog)
        self.when.setObjectName(u"when")
        self.when.setEnabled(False)
        self.when.setCalendarPopup(True)

        self.form.setWidget(2, QFormLayout.ItemRole.FieldRole, self.when)

        self.email_label = QLabel(OrderOptionsDialog)
        self.email_label.setObjectName(u"email_label")

        self.form.setWidget(3, QFormLayout.ItemRole.LabelRole, self.email_label)

        self.email = QLineEdit(OrderOptionsDialog)
        self.email.setObjectName(u"email")

        self.form.setWidget(3, QFormLayout.ItemRole.FieldRole, self.email)

        self.problem = QLabel(OrderOptionsDialog)
        self.problem.setObjectName(u"problem")
        self.problem.setWordWrap(True)

        self.form.setWidget(4, QFormLayout.ItemRole.SpanningRole, self.problem)

        self.buttons = QDialogButtonBox(OrderOptionsDialog)
        self.buttons.setObjectName(u"buttons")
        self.buttons.setStandardButtons(QDialogButtonBox.StandardButton.Cancel|QDialogButtonBox.StandardButton.Ok)

        self.form.setWidget(5, QFormLayout.ItemRole.SpanningRole, self.buttons)

#if QT_CONFIG(shortcut)
        self.when_label.setBuddy(self.when)
        self.email_label.setBuddy(self.email)
#endif // QT_CONFIG(shortcut)

        self.retranslateUi(OrderOptionsDialog)

        QMetaObject.connectSlotsByName(OrderOptionsDialog)
    # setupUi

    def retranslateUi(self, OrderOptionsDialog):
        OrderOptionsDialog.setWindowTitle(QCoreApplication.translate("OrderOptionsDialog", u"MicroESIM order options", None))
        self.start.setText(QCoreApplication.translate("OrderOptionsDialog", u"Start the plan on a date (for plans that start by order date)", None))
        self.when_label.setText(QCoreApplication.translate("OrderOptionsDialog", u"Starts", None))
        self.when.setDisplayFormat(QCoreApplication.translate("OrderOptionsDialog", u"yyyy-MM-dd HH:mm 'UTC'", None))
        self.email_label.setText(QCoreApplication.translate("OrderOptionsDialog", u"Customer e-mail", None))
        self.email.setPlaceholderText(QCoreApplication.translate("OrderOptionsDialog", u"optional: MicroESIM mails the eSIM to this address", None))
    # retranslateUi

